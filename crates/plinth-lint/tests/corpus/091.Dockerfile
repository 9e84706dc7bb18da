FROM golang:1.22
LABEL maintainer="team@example.com"
RUN cat /etc/os-release | grep VERSION
RUN pip install flask
RUN curl -o /usr/local/bin/tini -fsSL https://github.com/krallin/tini/releases/download/v0.19.0/tini && chmod +x /usr/local/bin/tini
ENTRYPOINT /usr/local/bin/run
