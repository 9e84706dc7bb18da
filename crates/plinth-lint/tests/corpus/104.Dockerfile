FROM --platform=linux/amd64 ${BASE_IMAGE}
MAINTAINER someone@example.com
WORKDIR /app
COPY package.json package-lock.json ./
RUN apt-get update && apt-get install --yes --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*
RUN ["/bin/sh", "-c", "apt-get update && apt-get install -y jq"]
RUN pip install --no-cache-dir .
ENTRYPOINT /usr/local/bin/run
