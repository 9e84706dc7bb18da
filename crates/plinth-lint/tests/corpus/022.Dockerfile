FROM ubuntu:22.04
LABEL maintainer="team@example.com"
WORKDIR /srv/service
RUN apt-get -y install --no-install-recommends wget=1.21.3-1+b2 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN npm install -g typescript@5.3.3
RUN npm install -g typescript@5.3.3
EXPOSE 8080
CMD ["python", "app.py"]
