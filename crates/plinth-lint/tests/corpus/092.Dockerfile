FROM debian:bookworm-slim AS deps
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR /srv/service
RUN pip install flask
COPY --chown=app:app . /home/app/
RUN cd /tmp && curl -fsSLO https://example.com/tool.tar.gz && tar xzf tool.tar.gz
RUN npm install express

FROM registry.example.com/base/base-runtime:1.4.2
RUN cat /etc/os-release | grep VERSION
COPY --from=nonexistent /out /app
CMD ["a"]
CMD ["b"]
