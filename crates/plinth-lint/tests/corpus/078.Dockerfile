FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS builder
LABEL maintainer="team@example.com"
RUN apt-get install python3
RUN go build -o /out/app ./cmd/app
RUN go build -o /out/app ./cmd/app

FROM ubuntu:latest
ENV PIP_NO_CACHE_DIR=1
WORKDIR app
RUN apt update && apt install -y vim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        git \
        make \
    && rm -rf /var/lib/apt/lists/*
RUN npm install -g typescript@5.3.3
COPY --from=builder /out /app
ENTRYPOINT /usr/local/bin/run
