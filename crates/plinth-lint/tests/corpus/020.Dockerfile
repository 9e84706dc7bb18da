FROM node:20-bookworm AS deps
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR app
RUN pip install flask

FROM alpine
COPY . /app
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
RUN npm install
COPY --from=0 /out /app
# hadolint ignore=DL3008,DL3015
RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*
USER root
CMD ["sh"]
