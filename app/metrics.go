package app

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// Metrics is what the worker exports at /metrics: the Temporal SDK's own
// metrics (through tally, as Temporal's samples do) and tabflow's, all in one
// Prometheus registry. It observes the Tableau client and the health checks.
type Metrics struct {
	Registry *prometheus.Registry
	scope    tally.Scope
	closer   func() error

	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited prometheus.Counter
	patWait     prometheus.Histogram
	leaseWait   prometheus.Histogram
	health      *prometheus.GaugeVec
	patExpiry   prometheus.Gauge
}

// NewMetrics builds the registry and the SDK's metrics handler.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  tallyprom.NewReporter(tallyprom.Options{Registerer: reg}),
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
	}, time.Second)
	m := &Metrics{
		Registry: reg,
		scope:    sdktally.NewPrometheusNamingScope(scope),
		closer:   closer.Close,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tabflow_tableau_requests_total",
			Help: "Requests to Tableau by method, endpoint (a route template) and HTTP status (0: no answer).",
		}, []string{"method", "endpoint", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tabflow_tableau_request_duration_seconds",
			Help:    "How long Tableau took to answer, by method and endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}, []string{"method", "endpoint"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tabflow_tableau_rate_limited_total",
			Help: "Answers of HTTP 429 (rate limited) from Tableau.",
		}),
		patWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tabflow_pat_session_wait_seconds",
			Help:    "Time an activity waited for its PAT's previous session in this worker to end.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		leaseWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tabflow_pat_lease_wait_seconds",
			Help:    "Time an activity waited for its PAT's fleet-wide lease (another worker's session).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		health: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tabflow_health_check_ok",
			Help: "The last result of each health check in this worker: 1 passed, 0 failed.",
		}, []string{"check"}),
		patExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tabflow_pat_expires_in_seconds",
			Help: "The PAT's remaining lifetime as Tableau last reported it at sign-in (health check).",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.rateLimited, m.patWait, m.leaseWait, m.health, m.patExpiry)
	return m
}

// SDKHandler is the Temporal client's metrics handler.
func (m *Metrics) SDKHandler() client.MetricsHandler { return sdktally.NewMetricsHandler(m.scope) }

// Close flushes and stops the SDK's metrics scope.
func (m *Metrics) Close() error { return m.closer() }

// TableauRequest implements tableau.Observer.
func (m *Metrics) TableauRequest(method, route string, status int, took time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(took.Seconds())
	if status == 429 {
		m.rateLimited.Inc()
	}
}

// PATSessionWait implements tableau.Observer.
func (m *Metrics) PATSessionWait(took time.Duration) { m.patWait.Observe(took.Seconds()) }

// PATLeaseWait implements tableau.Observer.
func (m *Metrics) PATLeaseWait(took time.Duration) { m.leaseWait.Observe(took.Seconds()) }

// HealthCheck implements activities.HealthObserver.
func (m *Metrics) HealthCheck(check string, ok bool) {
	v := 0.0
	if ok {
		v = 1
	}
	m.health.WithLabelValues(check).Set(v)
}

// PATExpiresIn implements activities.HealthObserver.
func (m *Metrics) PATExpiresIn(d time.Duration) { m.patExpiry.Set(d.Seconds()) }
