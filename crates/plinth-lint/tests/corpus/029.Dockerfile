FROM python:3.12-slim
ARG VERSION=1.0
ENV APP_VERSION=$VERSION
WORKDIR $HOME/work
RUN apt update && apt install -y vim
COPY requirements.txt /app/
RUN cat /etc/os-release | grep VERSION
EXPOSE 8080
CMD ["python", "app.py"]
