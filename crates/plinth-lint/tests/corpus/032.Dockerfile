FROM ubuntu
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR app
RUN ln -sf /bin/bash /bin/sh
RUN npm install
RUN ["/bin/sh", "-c", "apt-get update && apt-get install -y jq"]
RUN pip install git+https://github.com/example/lib.git@main
USER 1000
CMD ["node", "index.js"]
