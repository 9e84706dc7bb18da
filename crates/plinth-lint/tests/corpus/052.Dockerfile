FROM alpine:3.19
ENV PIP_NO_CACHE_DIR=1
WORKDIR /srv/service
RUN npm install express@4.18.2 --save
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
CMD python app.py
