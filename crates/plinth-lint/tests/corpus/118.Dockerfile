ARG BASE_IMAGE=debian:bookworm-slim
FROM node:20-bookworm
MAINTAINER someone@example.com
COPY requirements.txt /app/
STOPSIGNAL SIGTERM
CMD ["nginx", "-g", "daemon off;"]
