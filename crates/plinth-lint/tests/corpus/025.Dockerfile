ARG BASE_IMAGE=debian:bookworm-slim
FROM alpine:3.19
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /app
RUN npm install -g pnpm
RUN apk add --no-cache curl=8.5.0-r0
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
