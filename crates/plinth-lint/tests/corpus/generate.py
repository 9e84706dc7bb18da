#!/usr/bin/env python3
"""Writes the lint agreement corpus: 120 varied Dockerfiles (NNN.Dockerfile) built from the
snippets below with a fixed seed, so the corpus is the same on every run. The agreement test
(tests/agreement.rs) lints them with plinth and with hadolint; bench/lint.sh times both.

Usage: python3 generate.py   (rewrites the NNN.Dockerfile files next to this script)
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))

BASES = [
    "ubuntu:22.04", "ubuntu", "ubuntu:latest", "debian:bookworm-slim", "debian:12",
    "alpine:3.19", "alpine", "python:3.12-slim", "node:20-bookworm", "golang:1.22",
    "registry.example.com/base/base-runtime:1.4.2",
    "debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "${BASE_IMAGE}", "docker.io/library/nginx:1.25", "quay.io/prometheus/busybox:latest",
    "gcr.io/distroless/static-debian12", "centos:7", "fedora:40",
]

APT = [
    "RUN apt-get update && apt-get install -y curl",
    "RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 ca-certificates=20230311 && rm -rf /var/lib/apt/lists/*",
    "RUN apt-get update \\\n    && apt-get install -y --no-install-recommends \\\n        git \\\n        make \\\n    && rm -rf /var/lib/apt/lists/*",
    "RUN apt-get install python3",
    "RUN apt-get -y install --no-install-recommends wget=1.21.3-1+b2 && apt-get clean && rm -rf /var/lib/apt/lists/*",
    "RUN apt update && apt install -y vim",
    "RUN apt-get update && apt-get -qq install -y gnupg && rm -rf /var/lib/apt/lists/*",
    "RUN set -eux; apt-get update; apt-get install -y --no-install-recommends libpq5=15.6-0+deb12u1; rm -rf /var/lib/apt/lists/*",
    "RUN apt-get update && apt-get install --yes --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*",
    "RUN sudo apt-get update && sudo apt-get install -y htop",
]

APK = [
    "RUN apk add curl",
    "RUN apk add --no-cache curl=8.5.0-r0",
    "RUN apk update && apk add --no-cache bash git",
    "RUN apk add --no-cache --virtual .build-deps gcc=13.2.1_git20231014-r0 musl-dev=1.2.4_git20230717-r4 && apk del .build-deps",
    "RUN apk --no-cache add ca-certificates",
]

PIP = [
    "RUN pip install flask",
    "RUN pip install --no-cache-dir flask==3.0.2 gunicorn==21.2.0",
    "RUN pip install -r requirements.txt",
    "RUN pip3 install --no-cache-dir -r requirements.txt",
    "RUN python -m pip install requests",
    "RUN pip install --user --no-cache-dir 'django>=4.2,<5'",
    "RUN pip install --no-cache-dir .",
    "RUN pip install git+https://github.com/example/lib.git@main",
]

NPM = [
    "RUN npm install",
    "RUN npm install express",
    "RUN npm install express@4.18.2 --save",
    "RUN npm ci --omit=dev",
    "RUN npm install -g typescript@5.3.3",
    "RUN npm install -g pnpm",
]

MISC_RUN = [
    "RUN cd /tmp && curl -fsSLO https://example.com/tool.tar.gz && tar xzf tool.tar.gz",
    "RUN curl -fsSL https://example.com/install.sh | sh",
    "RUN set -o pipefail && curl -fsSL https://example.com/x.tar.gz | tar xz -C /opt",
    "RUN wget https://example.com/file.zip && unzip file.zip",
    "RUN wget --progress=dot:giga https://example.com/big.bin",
    "RUN ln -sf /bin/bash /bin/sh",
    "RUN useradd --create-home app",
    "RUN mkdir -p /app/data && chown -R 1000:1000 /app",
    "RUN echo 'hello' > /etc/motd",
    "RUN make -C /src install",
    "RUN go build -o /out/app ./cmd/app",
    "RUN [\"/bin/sh\", \"-c\", \"apt-get update && apt-get install -y jq\"]",
    "RUN git clone https://github.com/example/repo.git /src",
    "RUN cat /etc/os-release | grep VERSION",
    "RUN rm -rf /var/lib/apt/lists/*",
    "RUN curl -o /usr/local/bin/tini -fsSL https://github.com/krallin/tini/releases/download/v0.19.0/tini && chmod +x /usr/local/bin/tini",
]

COPIES = [
    "COPY . /app",
    "COPY . .",
    "COPY requirements.txt /app/",
    "COPY package.json package-lock.json ./",
    "COPY app.py config.yaml /app",
    "COPY src/ /app/src/",
    "ADD app.tar.gz /opt/",
    "ADD config.json /etc/app/config.json",
    "ADD https://example.com/file.txt /tmp/file.txt",
    "COPY --chown=app:app . /home/app/",
    "COPY entrypoint.sh /usr/local/bin/",
]

WORKDIRS = ["WORKDIR /app", "WORKDIR app", "WORKDIR /srv/service", "WORKDIR $HOME/work"]

TAILS = [
    ["EXPOSE 8080", "CMD [\"python\", \"app.py\"]"],
    ["CMD python app.py"],
    ["ENTRYPOINT [\"/usr/local/bin/entrypoint.sh\"]", "CMD [\"serve\"]"],
    ["ENTRYPOINT /usr/local/bin/run"],
    ["CMD [\"a\"]", "CMD [\"b\"]"],
    ["ENTRYPOINT [\"x\"]", "ENTRYPOINT [\"y\"]"],
    ["USER root", "CMD [\"sh\"]"],
    ["USER app", "HEALTHCHECK CMD curl -f http://localhost/ || exit 1", "CMD [\"./server\"]"],
    ["USER 1000", "CMD [\"node\", \"index.js\"]"],
    ["STOPSIGNAL SIGTERM", "CMD [\"nginx\", \"-g\", \"daemon off;\"]"],
]

HEADS = [
    [],
    ["MAINTAINER someone@example.com"],
    ["LABEL maintainer=\"team@example.com\""],
    ["ARG VERSION=1.0", "ENV APP_VERSION=$VERSION"],
    ["SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]"],
    ["ENV DEBIAN_FRONTEND=noninteractive"],
    ["ENV PIP_NO_CACHE_DIR=1"],
]


def stage_lines(rnd, base, alias=None, platform=False):
    lines = []
    plat = "--platform=linux/amd64 " if platform else ""
    lines.append(f"FROM {plat}{base}" + (f" AS {alias}" if alias else ""))
    lines += rnd.choice(HEADS)
    if rnd.random() < 0.7:
        lines.append(rnd.choice(WORKDIRS))
    family = "alpine" if "alpine" in base else "debian"
    for _ in range(rnd.randint(1, 4)):
        pool = rnd.choice(["pm", "pip", "npm", "misc", "copy"])
        if pool == "pm":
            lines.append(rnd.choice(APK if family == "alpine" else APT))
        elif pool == "pip":
            lines.append(rnd.choice(PIP))
        elif pool == "npm":
            lines.append(rnd.choice(NPM))
        elif pool == "misc":
            lines.append(rnd.choice(MISC_RUN))
        else:
            lines.append(rnd.choice(COPIES))
    return lines


def dockerfile(rnd, i):
    lines = []
    if rnd.random() < 0.1:
        lines += ["# syntax=docker/dockerfile:1"]
    if rnd.random() < 0.15:
        lines += ["ARG BASE_IMAGE=debian:bookworm-slim"]
    if rnd.random() < 0.35:
        # Multi-stage: a builder, then a runtime that copies from it.
        alias = rnd.choice(["build", "builder", "deps"])
        lines += stage_lines(rnd, rnd.choice(BASES), alias, platform=rnd.random() < 0.2)
        lines.append("")
        lines += stage_lines(rnd, rnd.choice(BASES))
        src = rnd.choice([alias, alias, "nonexistent", "0"])
        lines.append(f"COPY --from={src} /out /app")
    else:
        lines += stage_lines(rnd, rnd.choice(BASES), platform=rnd.random() < 0.1)
    if rnd.random() < 0.2:
        lines.append("# hadolint ignore=DL3008,DL3015")
        lines.append(rnd.choice(APT))
    lines += rnd.choice(TAILS)
    return "\n".join(lines) + "\n"


def main():
    rnd = random.Random(20261123)
    for i in range(120):
        with open(os.path.join(HERE, f"{i:03}.Dockerfile"), "w") as f:
            f.write(dockerfile(rnd, i))


if __name__ == "__main__":
    main()
