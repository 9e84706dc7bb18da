FROM --platform=linux/amd64 node:20-bookworm AS deps
LABEL maintainer="team@example.com"
RUN python -m pip install requests

FROM debian:12
LABEL maintainer="team@example.com"
RUN pip install --user --no-cache-dir 'django>=4.2,<5'
RUN apt-get update && apt-get install -y curl
RUN rm -rf /var/lib/apt/lists/*
COPY --from=deps /out /app
STOPSIGNAL SIGTERM
CMD ["nginx", "-g", "daemon off;"]
