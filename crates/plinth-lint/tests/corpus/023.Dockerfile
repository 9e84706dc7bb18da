FROM ubuntu
MAINTAINER someone@example.com
WORKDIR $HOME/work
RUN sudo apt-get update && sudo apt-get install -y htop
RUN pip install --user --no-cache-dir 'django>=4.2,<5'
EXPOSE 8080
CMD ["python", "app.py"]
