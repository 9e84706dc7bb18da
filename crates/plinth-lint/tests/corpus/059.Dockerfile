FROM golang:1.22 AS build
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR $HOME/work
RUN sudo apt-get update && sudo apt-get install -y htop

FROM quay.io/prometheus/busybox:latest
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN npm install -g typescript@5.3.3
RUN pip3 install --no-cache-dir -r requirements.txt
RUN set -eux; apt-get update; apt-get install -y --no-install-recommends libpq5=15.6-0+deb12u1; rm -rf /var/lib/apt/lists/*
COPY --from=build /out /app
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
