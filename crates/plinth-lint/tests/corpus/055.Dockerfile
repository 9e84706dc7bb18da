FROM registry.example.com/base/base-runtime:1.4.2
LABEL maintainer="team@example.com"
WORKDIR /srv/service
COPY app.py config.yaml /app
RUN sudo apt-get update && sudo apt-get install -y htop
RUN pip3 install --no-cache-dir -r requirements.txt
USER root
CMD ["sh"]
