FROM python:3.12-slim AS deps
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY app.py config.yaml /app
RUN set -o pipefail && curl -fsSL https://example.com/x.tar.gz | tar xz -C /opt

FROM ${BASE_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN npm install -g pnpm
RUN sudo apt-get update && sudo apt-get install -y htop
COPY --from=0 /out /app
CMD ["a"]
CMD ["b"]
