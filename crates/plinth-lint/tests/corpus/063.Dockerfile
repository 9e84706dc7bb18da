FROM python:3.12-slim
MAINTAINER someone@example.com
WORKDIR /app
RUN mkdir -p /app/data && chown -R 1000:1000 /app
RUN npm install express@4.18.2 --save
RUN curl -fsSL https://example.com/install.sh | sh
# hadolint ignore=DL3008,DL3015
RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*
CMD python app.py
