FROM centos:7 AS builder
LABEL maintainer="team@example.com"
WORKDIR app
RUN npm install express
RUN apt-get -y install --no-install-recommends wget=1.21.3-1+b2 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN pip install flask
COPY . .

FROM ubuntu
ENV PIP_NO_CACHE_DIR=1
RUN curl -o /usr/local/bin/tini -fsSL https://github.com/krallin/tini/releases/download/v0.19.0/tini && chmod +x /usr/local/bin/tini
RUN npm install express
RUN apt-get update && apt-get install --yes --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*
RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*
COPY --from=nonexistent /out /app
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
