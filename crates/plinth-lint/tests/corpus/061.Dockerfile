# syntax=docker/dockerfile:1
FROM golang:1.22
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR app
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir .
RUN npm install -g pnpm
RUN apt-get install python3
# hadolint ignore=DL3008,DL3015
RUN apt-get -y install --no-install-recommends wget=1.21.3-1+b2 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
