# syntax=docker/dockerfile:1
FROM registry.example.com/base/base-runtime:1.4.2 AS deps
MAINTAINER someone@example.com
WORKDIR /app
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*
RUN cd /tmp && curl -fsSLO https://example.com/tool.tar.gz && tar xzf tool.tar.gz
COPY requirements.txt /app/

FROM centos:7
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR /app
RUN npm install
RUN pip install --user --no-cache-dir 'django>=4.2,<5'
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
COPY --from=deps /out /app
# hadolint ignore=DL3008,DL3015
RUN apt update && apt install -y vim
USER root
CMD ["sh"]
