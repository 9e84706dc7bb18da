FROM gcr.io/distroless/static-debian12 AS build
LABEL maintainer="team@example.com"
RUN npm ci --omit=dev

FROM alpine:3.19
MAINTAINER someone@example.com
ADD app.tar.gz /opt/
COPY --from=build /out /app
STOPSIGNAL SIGTERM
CMD ["nginx", "-g", "daemon off;"]
