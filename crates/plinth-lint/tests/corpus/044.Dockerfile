# syntax=docker/dockerfile:1
FROM python:3.12-slim AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR app
RUN pip install flask
RUN npm ci --omit=dev
RUN npm install
COPY entrypoint.sh /usr/local/bin/

FROM centos:7
MAINTAINER someone@example.com
COPY entrypoint.sh /usr/local/bin/
RUN rm -rf /var/lib/apt/lists/*
COPY --from=0 /out /app
ENTRYPOINT /usr/local/bin/run
