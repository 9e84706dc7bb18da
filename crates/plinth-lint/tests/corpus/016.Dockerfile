FROM python:3.12-slim AS builder
MAINTAINER someone@example.com
WORKDIR app
RUN npm ci --omit=dev
COPY . /app
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        git \
        make \
    && rm -rf /var/lib/apt/lists/*

FROM ubuntu:latest
WORKDIR /srv/service
RUN cd /tmp && curl -fsSLO https://example.com/tool.tar.gz && tar xzf tool.tar.gz
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        git \
        make \
    && rm -rf /var/lib/apt/lists/*
COPY --from=nonexistent /out /app
STOPSIGNAL SIGTERM
CMD ["nginx", "-g", "daemon off;"]
