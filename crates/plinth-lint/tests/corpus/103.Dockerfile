FROM gcr.io/distroless/static-debian12
MAINTAINER someone@example.com
WORKDIR /app
RUN npm install -g typescript@5.3.3
RUN npm install express
RUN npm install -g pnpm
USER 1000
CMD ["node", "index.js"]
