ARG BASE_IMAGE=debian:bookworm-slim
FROM debian:12 AS builder
MAINTAINER someone@example.com
WORKDIR app
RUN go build -o /out/app ./cmd/app
COPY src/ /app/src/
RUN pip install --user --no-cache-dir 'django>=4.2,<5'

FROM ubuntu:latest
LABEL maintainer="team@example.com"
COPY package.json package-lock.json ./
COPY package.json package-lock.json ./
RUN go build -o /out/app ./cmd/app
COPY --from=builder /out /app
ENTRYPOINT /usr/local/bin/run
