FROM python:3.12-slim
ENV PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install --yes --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*
COPY . /app
RUN apt update && apt install -y vim
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
EXPOSE 8080
CMD ["python", "app.py"]
