FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /srv/service
RUN npm install -g pnpm
RUN make -C /src install
RUN set -o pipefail && curl -fsSL https://example.com/x.tar.gz | tar xz -C /opt
RUN pip install flask
# hadolint ignore=DL3008,DL3015
RUN set -eux; apt-get update; apt-get install -y --no-install-recommends libpq5=15.6-0+deb12u1; rm -rf /var/lib/apt/lists/*
CMD ["a"]
CMD ["b"]
