FROM ${BASE_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /srv/service
COPY --chown=app:app . /home/app/

FROM ubuntu
ENV PIP_NO_CACHE_DIR=1
WORKDIR app
RUN set -o pipefail && curl -fsSL https://example.com/x.tar.gz | tar xz -C /opt
COPY --from=nonexistent /out /app
CMD ["a"]
CMD ["b"]
