FROM debian:12
WORKDIR /app
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
ADD config.json /etc/app/config.json
CMD ["a"]
CMD ["b"]
