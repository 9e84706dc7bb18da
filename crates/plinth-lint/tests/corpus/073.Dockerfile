FROM registry.example.com/base/base-runtime:1.4.2
MAINTAINER someone@example.com
RUN npm ci --omit=dev
# hadolint ignore=DL3008,DL3015
RUN apt-get update && apt-get install -y curl
USER root
CMD ["sh"]
