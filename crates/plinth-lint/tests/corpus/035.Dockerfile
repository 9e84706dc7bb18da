ARG BASE_IMAGE=debian:bookworm-slim
FROM registry.example.com/base/base-runtime:1.4.2
ENV PIP_NO_CACHE_DIR=1
WORKDIR /srv/service
RUN sudo apt-get update && sudo apt-get install -y htop
RUN pip install --user --no-cache-dir 'django>=4.2,<5'
USER 1000
CMD ["node", "index.js"]
