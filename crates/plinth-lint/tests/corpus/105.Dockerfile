FROM ${BASE_IMAGE}
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
COPY app.py config.yaml /app
# hadolint ignore=DL3008,DL3015
RUN apt update && apt install -y vim
CMD python app.py
