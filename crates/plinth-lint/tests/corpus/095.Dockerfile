ARG BASE_IMAGE=debian:bookworm-slim
FROM --platform=linux/amd64 fedora:40
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR $HOME/work
RUN useradd --create-home app
RUN cd /tmp && curl -fsSLO https://example.com/tool.tar.gz && tar xzf tool.tar.gz
USER root
CMD ["sh"]
