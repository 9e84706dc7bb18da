FROM python:3.12-slim
ENV PIP_NO_CACHE_DIR=1
WORKDIR app
RUN rm -rf /var/lib/apt/lists/*
RUN git clone https://github.com/example/repo.git /src
COPY --chown=app:app . /home/app/
# hadolint ignore=DL3008,DL3015
RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*
CMD python app.py
