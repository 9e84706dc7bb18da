FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS build
WORKDIR $HOME/work
RUN apt-get -y install --no-install-recommends wget=1.21.3-1+b2 && apt-get clean && rm -rf /var/lib/apt/lists/*

FROM alpine
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apk add --no-cache curl=8.5.0-r0
COPY --from=nonexistent /out /app
ENTRYPOINT /usr/local/bin/run
