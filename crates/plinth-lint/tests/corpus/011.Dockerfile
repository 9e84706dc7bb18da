FROM ubuntu:latest AS deps
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR /app
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*
RUN python -m pip install requests
COPY app.py config.yaml /app

FROM golang:1.22
LABEL maintainer="team@example.com"
WORKDIR /srv/service
RUN npm install
RUN mkdir -p /app/data && chown -R 1000:1000 /app
COPY --from=deps /out /app
CMD python app.py
