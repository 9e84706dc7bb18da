FROM --platform=linux/amd64 alpine AS build
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR /srv/service
RUN npm install

FROM node:20-bookworm
MAINTAINER someone@example.com
WORKDIR /srv/service
ADD config.json /etc/app/config.json
COPY app.py config.yaml /app
COPY --chown=app:app . /home/app/
COPY --from=nonexistent /out /app
USER root
CMD ["sh"]
