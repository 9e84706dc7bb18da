ARG GO_VERSION=1.22
ARG TARGETPLATFORM
from golang:${GO_VERSION}-alpine as deps
arg MODULE=example.com/app
Run go mod download

FROM deps AS test
ARG CGO_ENABLED=0 GOFLAGS
RUN go test ./...

FROM --platform=$TARGETPLATFORM gcr.io/distroless/static AS final
COPY --from=deps /go/bin/app /app
COPY --from=0 /etc/passwd /etc/passwd
USER 65532:65532
ENTRYPOINT ["/app"]
