FROM python:3.12-slim AS deps
MAINTAINER someone@example.com
WORKDIR app
RUN apt-get update && apt-get install -y curl
RUN curl -o /usr/local/bin/tini -fsSL https://github.com/krallin/tini/releases/download/v0.19.0/tini && chmod +x /usr/local/bin/tini
RUN apt-get update && apt-get install --yes --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*

FROM alpine
ENV PIP_NO_CACHE_DIR=1
WORKDIR app
COPY --chown=app:app . /home/app/
COPY --from=nonexistent /out /app
STOPSIGNAL SIGTERM
CMD ["nginx", "-g", "daemon off;"]
