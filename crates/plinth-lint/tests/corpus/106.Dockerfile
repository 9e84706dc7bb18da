FROM golang:1.22
MAINTAINER someone@example.com
RUN apt update && apt install -y vim
USER 1000
CMD ["node", "index.js"]
