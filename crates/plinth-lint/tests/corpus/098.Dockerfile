FROM docker.io/library/nginx:1.25
ENV PIP_NO_CACHE_DIR=1
WORKDIR /srv/service
RUN python -m pip install requests
ADD https://example.com/file.txt /tmp/file.txt
RUN apt-get update && apt-get install --yes --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*
USER 1000
CMD ["node", "index.js"]
