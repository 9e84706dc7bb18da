FROM alpine AS builder
LABEL maintainer="team@example.com"
WORKDIR $HOME/work
RUN npm install -g pnpm

FROM gcr.io/distroless/static-debian12
ENV PIP_NO_CACHE_DIR=1
WORKDIR $HOME/work
RUN curl -fsSL https://example.com/install.sh | sh
COPY --from=builder /out /app
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
