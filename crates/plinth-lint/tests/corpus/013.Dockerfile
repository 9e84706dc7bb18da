# syntax=docker/dockerfile:1
FROM quay.io/prometheus/busybox:latest
WORKDIR /app
RUN cd /tmp && curl -fsSLO https://example.com/tool.tar.gz && tar xzf tool.tar.gz
RUN mkdir -p /app/data && chown -R 1000:1000 /app
RUN pip install git+https://github.com/example/lib.git@main
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
