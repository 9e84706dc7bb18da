FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN pip install git+https://github.com/example/lib.git@main
RUN pip install --no-cache-dir .
RUN ["/bin/sh", "-c", "apt-get update && apt-get install -y jq"]
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
