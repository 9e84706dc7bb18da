FROM --platform=linux/amd64 python:3.12-slim AS builder
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR app
RUN cd /tmp && curl -fsSLO https://example.com/tool.tar.gz && tar xzf tool.tar.gz
RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*
ADD https://example.com/file.txt /tmp/file.txt

FROM gcr.io/distroless/static-debian12
MAINTAINER someone@example.com
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
RUN npm install -g typescript@5.3.3
COPY --from=builder /out /app
# hadolint ignore=DL3008,DL3015
RUN apt update && apt install -y vim
CMD ["a"]
CMD ["b"]
