FROM --platform=linux/amd64 quay.io/prometheus/busybox:latest
ENV PIP_NO_CACHE_DIR=1
WORKDIR app
RUN npm install -g pnpm
RUN echo 'hello' > /etc/motd
RUN cd /tmp && curl -fsSLO https://example.com/tool.tar.gz && tar xzf tool.tar.gz
COPY package.json package-lock.json ./
USER 1000
CMD ["node", "index.js"]
