FROM ubuntu AS builder
LABEL maintainer="team@example.com"
ADD config.json /etc/app/config.json
RUN ln -sf /bin/bash /bin/sh

FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
MAINTAINER someone@example.com
WORKDIR $HOME/work
RUN npm install -g typescript@5.3.3
COPY entrypoint.sh /usr/local/bin/
RUN apt-get -y install --no-install-recommends wget=1.21.3-1+b2 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN apt-get update && apt-get install -y curl
COPY --from=builder /out /app
# hadolint ignore=DL3008,DL3015
RUN set -eux; apt-get update; apt-get install -y --no-install-recommends libpq5=15.6-0+deb12u1; rm -rf /var/lib/apt/lists/*
ENTRYPOINT /usr/local/bin/run
