ARG BASE_IMAGE=debian:bookworm-slim
FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
MAINTAINER someone@example.com
WORKDIR app
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        git \
        make \
    && rm -rf /var/lib/apt/lists/*
RUN echo 'hello' > /etc/motd
USER 1000
CMD ["node", "index.js"]
