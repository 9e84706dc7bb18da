FROM gcr.io/distroless/static-debian12
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /srv/service
RUN pip install flask
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
