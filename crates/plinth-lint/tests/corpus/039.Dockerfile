FROM ${BASE_IMAGE}
MAINTAINER someone@example.com
WORKDIR /app
RUN pip install -r requirements.txt
RUN npm install -g pnpm
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
