FROM gcr.io/distroless/static-debian12
MAINTAINER someone@example.com
ADD https://example.com/file.txt /tmp/file.txt
COPY requirements.txt /app/
RUN npm install express
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
