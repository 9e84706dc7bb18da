FROM gcr.io/distroless/static-debian12
ENV PIP_NO_CACHE_DIR=1
WORKDIR $HOME/work
RUN apt-get install python3
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
