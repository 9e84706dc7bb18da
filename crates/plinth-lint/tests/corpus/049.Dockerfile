FROM alpine:3.19
RUN pip install -r requirements.txt
USER app
HEALTHCHECK CMD curl -f http://localhost/ || exit 1
CMD ["./server"]
