FROM docker.io/library/nginx:1.25
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR app
RUN ["/bin/sh", "-c", "apt-get update && apt-get install -y jq"]
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
EXPOSE 8080
CMD ["python", "app.py"]
