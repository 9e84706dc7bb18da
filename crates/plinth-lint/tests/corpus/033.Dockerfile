FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS deps
ENV DEBIAN_FRONTEND=noninteractive
RUN pip install --no-cache-dir .
RUN pip install -r requirements.txt
RUN curl -o /usr/local/bin/tini -fsSL https://github.com/krallin/tini/releases/download/v0.19.0/tini && chmod +x /usr/local/bin/tini
RUN mkdir -p /app/data && chown -R 1000:1000 /app

FROM quay.io/prometheus/busybox:latest
ENV PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home app
RUN npm install -g pnpm
ADD https://example.com/file.txt /tmp/file.txt
COPY --from=0 /out /app
EXPOSE 8080
CMD ["python", "app.py"]
