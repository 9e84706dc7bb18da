FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS builder
MAINTAINER someone@example.com
WORKDIR app
RUN npm install express@4.18.2 --save
RUN set -eux; apt-get update; apt-get install -y --no-install-recommends libpq5=15.6-0+deb12u1; rm -rf /var/lib/apt/lists/*

FROM alpine
MAINTAINER someone@example.com
WORKDIR app
RUN npm install express@4.18.2 --save
COPY --from=builder /out /app
CMD ["a"]
CMD ["b"]
