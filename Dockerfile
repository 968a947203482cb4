FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /convot ./cmd/convot

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /convot /usr/local/bin/convot
ENV CONVOT_HTTP_ADDR=:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/convot"]
