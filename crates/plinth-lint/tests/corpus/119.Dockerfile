ARG BASE_IMAGE=debian:bookworm-slim
FROM gcr.io/distroless/static-debian12 AS build
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR /app
RUN git clone https://github.com/example/repo.git /src

FROM debian:bookworm-slim
MAINTAINER someone@example.com
WORKDIR $HOME/work
RUN pip3 install --no-cache-dir -r requirements.txt
RUN make -C /src install
RUN cat /etc/os-release | grep VERSION
COPY --from=build /out /app
CMD ["a"]
CMD ["b"]
