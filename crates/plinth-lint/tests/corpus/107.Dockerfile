FROM debian:12
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR /app
RUN apt update && apt install -y vim
RUN apt-get update && apt-get install --yes --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*
RUN npm install
EXPOSE 8080
CMD ["python", "app.py"]
