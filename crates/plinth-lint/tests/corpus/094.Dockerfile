# syntax=docker/dockerfile:1
FROM debian:bookworm-slim AS deps
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR app
RUN npm install express@4.18.2 --save
RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*

FROM ubuntu:latest
MAINTAINER someone@example.com
WORKDIR app
RUN npm ci --omit=dev
RUN pip install flask
COPY --from=nonexistent /out /app
CMD ["a"]
CMD ["b"]
