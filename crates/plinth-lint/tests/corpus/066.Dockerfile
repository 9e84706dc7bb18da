FROM node:20-bookworm
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /app
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        git \
        make \
    && rm -rf /var/lib/apt/lists/*
ADD app.tar.gz /opt/
RUN set -o pipefail && curl -fsSL https://example.com/x.tar.gz | tar xz -C /opt
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
