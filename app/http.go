package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// readyTimeout bounds the readiness probe's call to Temporal, so /readyz
// turns unready within seconds of losing Temporal.
const readyTimeout = 2 * time.Second

// probes answer /healthz (the process is up) and /readyz (Temporal is
// reachable and the worker is polling).
type probes struct {
	temporal  client.Client
	namespace string
	polling   atomic.Bool
}

func (p *probes) healthz(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintln(w, "ok")
}

func (p *probes) readyz(w http.ResponseWriter, r *http.Request) {
	if !p.polling.Load() {
		http.Error(w, "not ready: the worker is not polling", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if _, err := p.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		http.Error(w, "not ready: Temporal is not reachable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	// A deleted namespace answers every poll with an error the SDK retries
	// for two minutes before it gives the worker up (and the process exits):
	// unready at once instead.
	var notFound *serviceerror.NamespaceNotFound
	if _, err := p.temporal.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: p.namespace}); errors.As(err, &notFound) {
		http.Error(w, "not ready: namespace "+p.namespace+" does not exist", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// serveHTTP serves /metrics, /healthz and /readyz on addr until shut down.
// A taken address is an error that names the flag to change.
func serveHTTP(addr string, m *Metrics, p *probes) (*http.Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot serve metrics and probes on %s (%v): set -http-address (TABFLOW_HTTP_ADDRESS) to a free address, or empty to turn them off", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", p.healthz)
	mux.HandleFunc("GET /readyz", p.readyz)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err) // Serve fails only on a listener error after a good Listen
		}
	}()
	return srv, nil
}
