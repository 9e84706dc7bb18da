# syntax=docker/dockerfile:1
FROM --platform=linux/amd64 node:20-bookworm AS deps
WORKDIR app
RUN git clone https://github.com/example/repo.git /src

FROM alpine
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR /srv/service
COPY . /app
RUN curl -fsSL https://example.com/install.sh | sh
COPY --from=deps /out /app
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
