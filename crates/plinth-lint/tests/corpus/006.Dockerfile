FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
LABEL maintainer="team@example.com"
WORKDIR $HOME/work
RUN pip install flask
RUN npm install express
RUN set -o pipefail && curl -fsSL https://example.com/x.tar.gz | tar xz -C /opt
ENTRYPOINT /usr/local/bin/run
