ARG BASE_IMAGE=debian:bookworm-slim
FROM ubuntu AS builder
ENV PIP_NO_CACHE_DIR=1
RUN pip install git+https://github.com/example/lib.git@main
COPY . .

FROM registry.example.com/base/base-runtime:1.4.2
ENV PIP_NO_CACHE_DIR=1
WORKDIR /srv/service
RUN curl -fsSL https://example.com/install.sh | sh
ADD https://example.com/file.txt /tmp/file.txt
COPY app.py config.yaml /app
RUN npm install express@4.18.2 --save
COPY --from=builder /out /app
# hadolint ignore=DL3008,DL3015
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
