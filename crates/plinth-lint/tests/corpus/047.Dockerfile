FROM debian:12
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR app
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*
RUN curl -fsSL https://example.com/install.sh | sh
RUN pip install --user --no-cache-dir 'django>=4.2,<5'
COPY entrypoint.sh /usr/local/bin/
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
