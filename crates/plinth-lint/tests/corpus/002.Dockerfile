FROM quay.io/prometheus/busybox:latest AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN pip3 install --no-cache-dir -r requirements.txt
RUN rm -rf /var/lib/apt/lists/*
COPY entrypoint.sh /usr/local/bin/

FROM alpine:3.19
ENV PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN npm install -g pnpm
RUN apk add --no-cache --virtual .build-deps gcc=13.2.1_git20231014-r0 musl-dev=1.2.4_git20230717-r4 && apk del .build-deps
COPY --from=builder /out /app
CMD ["a"]
CMD ["b"]
