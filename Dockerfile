# The lean production worker (no Temporal server, no Web UI, no fake):
#   docker build -t tabflow-worker .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/worker ./worker

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /worker
# distroless's nonroot user by number: Kubernetes' runAsNonRoot can check
# only a numeric user.
USER 65532:65532
ENV TABFLOW_LOG_FORMAT=json TABFLOW_HTTP_ADDRESS=:9090
EXPOSE 9090
HEALTHCHECK --interval=10s --timeout=3s CMD ["/worker", "probe", "http://127.0.0.1:9090/readyz"]
ENTRYPOINT ["/worker"]
