FROM docker.io/library/nginx:1.25
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR $HOME/work
RUN useradd --create-home app
STOPSIGNAL SIGTERM
CMD ["nginx", "-g", "daemon off;"]
