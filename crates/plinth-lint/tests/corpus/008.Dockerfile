FROM quay.io/prometheus/busybox:latest
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /app
RUN ln -sf /bin/bash /bin/sh
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
