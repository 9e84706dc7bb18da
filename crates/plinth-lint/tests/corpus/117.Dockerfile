FROM centos:7
MAINTAINER someone@example.com
ADD app.tar.gz /opt/
RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0
RUN python -m pip install requests
RUN pip install git+https://github.com/example/lib.git@main
ENTRYPOINT ["x"]
ENTRYPOINT ["y"]
