FROM --platform=$BUILDPLATFORM golang:1.22 AS build
COPY --from=deps --chown=1000:1000 --chmod=0644 --link --parents --exclude=*.md --exclude=docs/ src/ ./
COPY --link=false --chown="app user" "a b.txt" /dst/
ADD --chown=app --chmod=755 --checksum=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef https://example.com/file.tar.gz /tmp/
ADD --keep-git-dir=true --link --exclude=.git git@github.com:moby/buildkit.git#v0.12 /buildkit
ADD --unpack=false archive.tar.gz /opt/
RUN --mount=type=cache,target=/root/.cache/go-build,sharing=locked,id=gocache \
    --mount=type=bind,from=deps,source=/go/pkg,target=/go/pkg,rw \
    --mount=type=secret,id=token,env=TOKEN,required \
    --mount=type=ssh \
    --mount=type=tmpfs,target=/tmp,size=64m \
    --network=none --security=insecure \
    go build -o /out/app ./cmd/app
RUN --network=host curl -fsS https://example.com
HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=2s --retries=3 CMD curl -f http://localhost/ || exit 1
