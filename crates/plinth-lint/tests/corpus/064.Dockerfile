FROM fedora:40
LABEL maintainer="team@example.com"
COPY requirements.txt /app/
RUN set -eux; apt-get update; apt-get install -y --no-install-recommends libpq5=15.6-0+deb12u1; rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
