ARG BASE_IMAGE=debian:bookworm-slim
FROM debian:12
ENV PIP_NO_CACHE_DIR=1
RUN apt-get -y install --no-install-recommends wget=1.21.3-1+b2 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN pip3 install --no-cache-dir -r requirements.txt
USER 1000
CMD ["node", "index.js"]
