FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
MAINTAINER someone@example.com
COPY requirements.txt /app/
COPY app.py config.yaml /app
RUN npm install express
EXPOSE 8080
CMD ["python", "app.py"]
