FROM centos:7
WORKDIR app
RUN go build -o /out/app ./cmd/app
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
