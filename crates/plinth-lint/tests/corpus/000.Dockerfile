FROM alpine:3.19
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR $HOME/work
RUN pip install flask
RUN apk add curl
RUN echo 'hello' > /etc/motd
RUN apk add curl
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
