FROM ${BASE_IMAGE}
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR $HOME/work
RUN ["/bin/sh", "-c", "apt-get update && apt-get install -y jq"]
RUN pip install -r requirements.txt
RUN sudo apt-get update && sudo apt-get install -y htop
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
ENTRYPOINT /usr/local/bin/run
