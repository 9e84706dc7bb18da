FROM node:20-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1
WORKDIR app
RUN git clone https://github.com/example/repo.git /src
RUN apt-get update && apt-get install -y curl

FROM registry.example.com/base/base-runtime:1.4.2
ENV DEBIAN_FRONTEND=noninteractive
RUN make -C /src install
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*
RUN npm install express
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*
COPY --from=builder /out /app
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
