FROM ${BASE_IMAGE}
LABEL maintainer="team@example.com"
WORKDIR /srv/service
RUN pip install -r requirements.txt
RUN npm install express@4.18.2 --save
RUN apt-get -y install --no-install-recommends wget=1.21.3-1+b2 && apt-get clean && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
