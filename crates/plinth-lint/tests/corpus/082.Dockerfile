FROM alpine:3.19
RUN npm install express@4.18.2 --save
ADD app.tar.gz /opt/
COPY entrypoint.sh /usr/local/bin/
RUN python -m pip install requests
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
