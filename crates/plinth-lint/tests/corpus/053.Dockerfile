FROM debian:bookworm-slim
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
COPY entrypoint.sh /usr/local/bin/
# hadolint ignore=DL3008,DL3015
RUN sudo apt-get update && sudo apt-get install -y htop
USER root
CMD ["sh"]
