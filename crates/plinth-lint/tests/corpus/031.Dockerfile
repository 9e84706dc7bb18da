FROM python:3.12-slim AS builder
ENV PIP_NO_CACHE_DIR=1
WORKDIR $HOME/work
RUN npm install -g pnpm
RUN make -C /src install

FROM debian:12
ENV PIP_NO_CACHE_DIR=1
RUN npm ci --omit=dev
RUN curl -fsSL https://example.com/install.sh | sh
RUN npm install -g pnpm
COPY --from=0 /out /app
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
