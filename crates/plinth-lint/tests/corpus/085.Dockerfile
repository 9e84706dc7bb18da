ARG BASE_IMAGE=debian:bookworm-slim
FROM debian:bookworm-slim AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR $HOME/work
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        git \
        make \
    && rm -rf /var/lib/apt/lists/*
RUN apt-get update && apt-get install -y curl

FROM ubuntu:latest
MAINTAINER someone@example.com
WORKDIR app
ADD https://example.com/file.txt /tmp/file.txt
RUN npm install express
RUN mkdir -p /app/data && chown -R 1000:1000 /app
COPY --from=builder /out /app
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
