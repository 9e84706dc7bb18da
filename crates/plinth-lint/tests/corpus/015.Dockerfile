# syntax=docker/dockerfile:1
FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
LABEL maintainer="team@example.com"
WORKDIR app
COPY package.json package-lock.json ./
RUN set -eux; apt-get update; apt-get install -y --no-install-recommends libpq5=15.6-0+deb12u1; rm -rf /var/lib/apt/lists/*
RUN sudo apt-get update && sudo apt-get install -y htop
RUN npm install express
# hadolint ignore=DL3008,DL3015
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
