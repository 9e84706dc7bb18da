FROM fedora:40 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /app
RUN pip install flask
RUN set -o pipefail && curl -fsSL https://example.com/x.tar.gz | tar xz -C /opt
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
RUN apt update && apt install -y vim

FROM ubuntu:22.04
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR app
RUN pip3 install --no-cache-dir -r requirements.txt
RUN go build -o /out/app ./cmd/app
RUN npm install -g typescript@5.3.3
RUN npm install express@4.18.2 --save
COPY --from=build /out /app
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
