FROM debian:12
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN npm install
RUN cat /etc/os-release | grep VERSION
RUN pip install -r requirements.txt
RUN rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve"]
