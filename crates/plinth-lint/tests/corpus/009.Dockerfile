FROM ubuntu
ENV PIP_NO_CACHE_DIR=1
RUN npm install -g pnpm
USER root
CMD ["sh"]
