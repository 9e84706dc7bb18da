FROM gcr.io/distroless/static-debian12 AS build
RUN npm install express
COPY . /app

FROM ubuntu:latest
ENV PIP_NO_CACHE_DIR=1
WORKDIR $HOME/work
ADD app.tar.gz /opt/
COPY --from=build /out /app
EXPOSE 8080
CMD ["python", "app.py"]
