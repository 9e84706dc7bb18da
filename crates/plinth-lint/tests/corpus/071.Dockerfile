FROM ubuntu:latest
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
RUN npm install -g typescript@5.3.3
RUN npm install -g typescript@5.3.3
RUN pip3 install --no-cache-dir -r requirements.txt
ENTRYPOINT /usr/local/bin/run
