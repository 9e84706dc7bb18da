# syntax=docker/dockerfile:1.7
# check=skip=JSONArgsRecommended
ARG BASE=alpine
ARG VERSION=3.19
# a comment after the directives
FROM ${BASE}:${VERSION} AS Builder
LABEL maintainer="someone@example.com" version="1.0" description="a \"quoted\" value"
LABEL legacy value with spaces
ENV PATH=/usr/local/bin:$PATH LANG=C.UTF-8
ENV LEGACY_KEY legacy value   with spaces
ENV EMPTY=""
EXPOSE 8080/tcp 53/udp 443
USER app:app
WORKDIR /srv/$APP
VOLUME /data /logs
VOLUME ["/cache"]
STOPSIGNAL SIGTERM
MAINTAINER Jane Doe <jane@example.com>
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update && apt-get install -y curl
RUN ["echo", "exec form"]
CMD ["serve", "--port", "8080"]
ENTRYPOINT /docker-entrypoint.sh
ARG a=1 b "c=x y"
