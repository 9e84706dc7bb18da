FROM node:20-bookworm
LABEL maintainer="team@example.com"
ADD config.json /etc/app/config.json
COPY package.json package-lock.json ./
RUN npm install -g pnpm
RUN apt-get install python3
STOPSIGNAL SIGTERM
CMD ["nginx", "-g", "daemon off;"]
