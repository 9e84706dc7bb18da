ARG BASE_IMAGE=debian:bookworm-slim
FROM ubuntu:latest AS deps
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /app
RUN pip install flask
RUN wget --progress=dot:giga https://example.com/big.bin
RUN pip install flask
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0

FROM golang:1.22
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR $HOME/work
RUN sudo apt-get update && sudo apt-get install -y htop
COPY . .
RUN git clone https://github.com/example/repo.git /src
COPY --from=0 /out /app
# hadolint ignore=DL3008,DL3015
RUN apt-get -y install --no-install-recommends wget=1.21.3-1+b2 && apt-get clean && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
