FROM alpine:3.19
LABEL maintainer="team@example.com"
WORKDIR /srv/service
RUN pip install -r requirements.txt
RUN npm install express@4.18.2 --save
RUN apk add curl
RUN apk add --no-cache curl=8.5.0-r0
EXPOSE 8080
CMD ["python", "app.py"]
