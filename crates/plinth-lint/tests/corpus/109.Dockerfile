FROM ${BASE_IMAGE}
WORKDIR /srv/service
RUN npm install
USER 1000
CMD ["node", "index.js"]
