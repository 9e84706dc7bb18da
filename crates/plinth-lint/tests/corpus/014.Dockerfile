FROM --platform=linux/amd64 centos:7 AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /app
RUN npm install -g typescript@5.3.3
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        git \
        make \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./

FROM golang:1.22
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /srv/service
RUN apt-get install python3
COPY --from=builder /out /app
ENTRYPOINT /usr/local/bin/run
