# syntax=docker/dockerfile:1
ARG BASE_IMAGE=debian:bookworm-slim
FROM node:20-bookworm AS build
RUN npm install express
RUN npm install -g pnpm
RUN pip install --user --no-cache-dir 'django>=4.2,<5'

FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR $HOME/work
RUN apt-get -y install --no-install-recommends wget=1.21.3-1+b2 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY entrypoint.sh /usr/local/bin/
RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out /app
CMD ["a"]
CMD ["b"]
