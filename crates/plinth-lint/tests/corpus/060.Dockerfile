FROM --platform=linux/amd64 ${BASE_IMAGE}
ENV PIP_NO_CACHE_DIR=1
WORKDIR $HOME/work
RUN npm install express@4.18.2 --save
RUN cat /etc/os-release | grep VERSION
RUN cat /etc/os-release | grep VERSION
USER 1000
CMD ["node", "index.js"]
