# The tabflow worker. Build: docker compose build (or docker build -t tabflow-worker .)
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/worker ./worker

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /worker
ENV TABFLOW_LOG_FORMAT=json
ENTRYPOINT ["/worker"]
