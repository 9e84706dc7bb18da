FROM alpine:3.19 AS deps
ENV PIP_NO_CACHE_DIR=1
WORKDIR /srv/service
RUN cd /tmp && curl -fsSLO https://example.com/tool.tar.gz && tar xzf tool.tar.gz
RUN curl -fsSL https://example.com/install.sh | sh
RUN pip install flask

FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
WORKDIR /app
RUN apt-get update && apt-get install --yes --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*
RUN npm install express@4.18.2 --save
COPY --from=nonexistent /out /app
EXPOSE 8080
CMD ["python", "app.py"]
