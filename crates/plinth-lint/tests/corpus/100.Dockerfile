FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
WORKDIR $HOME/work
RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*
RUN apt-get update && apt-get install -y curl
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
COPY --chown=app:app . /home/app/
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
