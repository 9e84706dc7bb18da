FROM ubuntu:latest AS deps
WORKDIR $HOME/work
RUN make -C /src install
COPY app.py config.yaml /app
RUN set -o pipefail && curl -fsSL https://example.com/x.tar.gz | tar xz -C /opt

FROM node:20-bookworm
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR app
RUN npm install -g pnpm
COPY --from=deps /out /app
USER root
CMD ["sh"]
