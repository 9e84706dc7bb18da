FROM ubuntu:latest
MAINTAINER someone@example.com
WORKDIR $HOME/work
RUN git clone https://github.com/example/repo.git /src
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
