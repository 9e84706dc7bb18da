FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR /app
RUN useradd --create-home app
RUN pip install --no-cache-dir .
RUN make -C /src install
RUN npm install -g pnpm
ENTRYPOINT /usr/local/bin/run
