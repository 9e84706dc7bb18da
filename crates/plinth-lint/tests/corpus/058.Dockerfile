FROM golang:1.22
WORKDIR $HOME/work
RUN npm install express
RUN pip install git+https://github.com/example/lib.git@main
EXPOSE 8080
CMD ["python", "app.py"]
