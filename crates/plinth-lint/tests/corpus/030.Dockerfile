ARG BASE_IMAGE=debian:bookworm-slim
FROM centos:7
LABEL maintainer="team@example.com"
WORKDIR $HOME/work
RUN pip install git+https://github.com/example/lib.git@main
RUN pip install flask
RUN npm install express
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
