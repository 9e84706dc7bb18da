# syntax=docker/dockerfile:1
ARG BASE_IMAGE=debian:bookworm-slim
FROM ubuntu AS build
LABEL maintainer="team@example.com"
WORKDIR $HOME/work
RUN pip install flask

FROM ubuntu:22.04
MAINTAINER someone@example.com
WORKDIR $HOME/work
RUN npm install
COPY . .
RUN ["/bin/sh", "-c", "apt-get update && apt-get install -y jq"]
ADD config.json /etc/app/config.json
COPY --from=build /out /app
CMD python app.py
