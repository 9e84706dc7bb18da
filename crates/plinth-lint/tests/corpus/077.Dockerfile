FROM docker.io/library/nginx:1.25
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /app
COPY . /app
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
