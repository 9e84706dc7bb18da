FROM --platform=linux/amd64 centos:7 AS builder
ENV PIP_NO_CACHE_DIR=1
WORKDIR app
COPY --chown=app:app . /home/app/
COPY . .
RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home app

FROM golang:1.22
COPY --chown=app:app . /home/app/
RUN pip install -r requirements.txt
COPY app.py config.yaml /app
RUN pip install git+https://github.com/example/lib.git@main
COPY --from=builder /out /app
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
