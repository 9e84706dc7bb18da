FROM alpine:3.19
ENV PIP_NO_CACHE_DIR=1
WORKDIR app
RUN wget --progress=dot:giga https://example.com/big.bin
RUN npm install express@4.18.2 --save
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
