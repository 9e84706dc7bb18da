FROM debian:12 AS deps
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*

FROM centos:7
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /srv/service
RUN apt update && apt install -y vim
RUN pip install --user --no-cache-dir 'django>=4.2,<5'
COPY --from=0 /out /app
CMD python app.py
