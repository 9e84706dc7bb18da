FROM python:3.12-slim
MAINTAINER someone@example.com
WORKDIR /app
RUN sudo apt-get update && sudo apt-get install -y htop
RUN wget https://example.com/file.zip && unzip file.zip
RUN pip install git+https://github.com/example/lib.git@main
CMD python app.py
