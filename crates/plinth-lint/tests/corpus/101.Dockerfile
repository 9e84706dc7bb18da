FROM node:20-bookworm AS build
ENV PIP_NO_CACHE_DIR=1
COPY . /app
RUN pip install --user --no-cache-dir 'django>=4.2,<5'

FROM ubuntu:latest
WORKDIR /app
RUN npm install
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        git \
        make \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out /app
CMD python app.py
