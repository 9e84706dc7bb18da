FROM alpine
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /app
RUN apk --no-cache add ca-certificates
RUN npm ci --omit=dev
RUN pip install -r requirements.txt
USER root
CMD ["sh"]
