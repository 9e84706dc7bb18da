FROM alpine:3.19 AS build
LABEL maintainer="team@example.com"
COPY package.json package-lock.json ./

FROM alpine:3.19
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
RUN npm ci --omit=dev
COPY --from=nonexistent /out /app
USER root
CMD ["sh"]
