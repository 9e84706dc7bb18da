FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR $HOME/work
RUN pip3 install --no-cache-dir -r requirements.txt
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        git \
        make \
    && rm -rf /var/lib/apt/lists/*
CMD ["a"]
CMD ["b"]
