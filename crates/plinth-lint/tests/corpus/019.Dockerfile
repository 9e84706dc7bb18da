# syntax=docker/dockerfile:1
FROM quay.io/prometheus/busybox:latest
ENV PIP_NO_CACHE_DIR=1
RUN cat /etc/os-release | grep VERSION
RUN set -eux; apt-get update; apt-get install -y --no-install-recommends libpq5=15.6-0+deb12u1; rm -rf /var/lib/apt/lists/*
RUN pip install --user --no-cache-dir 'django>=4.2,<5'
ENTRYPOINT /usr/local/bin/run
