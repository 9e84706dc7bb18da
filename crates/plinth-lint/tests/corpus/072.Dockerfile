FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS build
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR $HOME/work
RUN useradd --create-home app

FROM quay.io/prometheus/busybox:latest
MAINTAINER someone@example.com
WORKDIR app
RUN pip install flask
RUN apt-get -y install --no-install-recommends wget=1.21.3-1+b2 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN pip install --user --no-cache-dir 'django>=4.2,<5'
COPY --from=build /out /app
USER root
CMD ["sh"]
