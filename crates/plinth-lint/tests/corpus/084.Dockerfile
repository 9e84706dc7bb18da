FROM fedora:40
ENV PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN curl -fsSL https://example.com/install.sh | sh
RUN apt-get update && apt-get install --yes --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*
RUN npm install -g pnpm
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
