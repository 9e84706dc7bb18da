# syntax=docker/dockerfile:1
FROM debian:12 AS builder
LABEL maintainer="team@example.com"
WORKDIR $HOME/work
RUN npm install express
RUN npm ci --omit=dev

FROM ubuntu:latest
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR /app
RUN pip install -r requirements.txt
RUN npm install -g typescript@5.3.3
RUN python -m pip install requests
COPY app.py config.yaml /app
COPY --from=builder /out /app
USER 1000
CMD ["node", "index.js"]
