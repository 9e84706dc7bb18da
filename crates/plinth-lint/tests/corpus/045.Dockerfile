# syntax=docker/dockerfile:1
FROM ubuntu:latest
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR /srv/service
RUN pip install flask
RUN npm install
RUN ["/bin/sh", "-c", "apt-get update && apt-get install -y jq"]
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
