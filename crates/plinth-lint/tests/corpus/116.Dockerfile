ARG BASE_IMAGE=debian:bookworm-slim
FROM docker.io/library/nginx:1.25 AS deps
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
RUN ln -sf /bin/bash /bin/sh
COPY . .

FROM debian:bookworm-slim
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR app
COPY entrypoint.sh /usr/local/bin/
RUN pip install git+https://github.com/example/lib.git@main
RUN npm install -g pnpm
RUN npm install express
COPY --from=0 /out /app
ENTRYPOINT /usr/local/bin/run
