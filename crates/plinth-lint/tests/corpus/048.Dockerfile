FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
LABEL maintainer="team@example.com"
WORKDIR $HOME/work
COPY src/ /app/src/
RUN set -o pipefail && curl -fsSL https://example.com/x.tar.gz | tar xz -C /opt
RUN echo 'hello' > /etc/motd
RUN pip3 install --no-cache-dir -r requirements.txt
STOPSIGNAL SIGTERM
CMD ["nginx", "-g", "daemon off;"]
