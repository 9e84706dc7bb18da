FROM centos:7
WORKDIR app
RUN npm install express
# hadolint ignore=DL3008,DL3015
RUN apt-get install python3
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
