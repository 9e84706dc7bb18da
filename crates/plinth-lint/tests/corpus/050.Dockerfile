FROM golang:1.22
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR $HOME/work
RUN npm install -g typescript@5.3.3
RUN apt-get update && apt-get install --yes --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*
RUN pip install -r requirements.txt
EXPOSE 8080
CMD ["python", "app.py"]
