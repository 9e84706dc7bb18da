FROM registry.example.com/base/base-runtime:1.4.2
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR $HOME/work
RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*
ADD app.tar.gz /opt/
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
