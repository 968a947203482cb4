# Pinned: the Go toolchain and the distroless runtime (digest-free tags of
# exact versions; pin digests in your registry mirror if you need them).
FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# .dockerignore keeps ./data (dev master key, SQLite), node_modules and .git
# out of the build context.
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/usr/local/bin/convot ./cmd/convot \
 && mkdir -p /out/var/lib/convot

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/usr/local/bin/convot /usr/local/bin/convot
# The data directory exists, owned by the non-root user, so that a named
# volume mounted on it starts writable (the mail outbox lives there).
COPY --from=build --chown=65532:65532 /out/var/lib/convot /var/lib/convot
ENV CONVOT_HTTP_ADDR=:8080 CONVOT_ADMIN_ADDR=:9090 CONVOT_DATA_DIR=/var/lib/convot
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/convot", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/convot"]
