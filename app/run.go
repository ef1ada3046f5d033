package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"tabflow/activities"
	"tabflow/tableau"
	"tabflow/workflows"
)

// Run runs the worker until ctx is done (SIGINT/SIGTERM in the mains): it
// connects to Temporal with the SDK's environment configuration, registers
// every workflow and activity, serves metrics and probes, and on stop stops
// polling and gives running activities f.StopTimeout to finish and sign out.
func Run(ctx context.Context, f Flags, logger *slog.Logger) error {
	cfg, err := tableau.LoadConfig(f.ConnectionFile, os.LookupEnv)
	if err != nil {
		return fmt.Errorf("Tableau connection is not valid:\n%w", indent(err))
	}
	metrics := NewMetrics()
	defer metrics.Close()
	opts, err := clientOptions(f)
	if err != nil {
		return fmt.Errorf("Temporal client configuration: %w", err)
	}
	opts.Logger = sdklog.NewStructuredLogger(logger)
	opts.MetricsHandler = metrics.SDKHandler()
	opts.DataConverter = workflows.DataConverter
	if opts.HostPort == "" {
		opts.HostPort = client.DefaultHostPort
	}
	if opts.Namespace == "" {
		opts.Namespace = client.DefaultNamespace
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return fmt.Errorf("connecting to Temporal at %s: %w", opts.HostPort, err)
	}
	defer c.Close()
	fleet := NewFleetLock(c, fmt.Sprintf("%s@%d", hostname(), os.Getpid()))
	tc, err := tableau.NewClient(cfg, tableau.WithLogger(logger), tableau.WithObserver(metrics), tableau.WithFleetLock(fleet))
	if err != nil {
		return err
	}

	p := &probes{temporal: c, namespace: opts.Namespace}
	if f.HTTPAddress != "" {
		srv, err := serveHTTP(f.HTTPAddress, metrics, p)
		if err != nil {
			return err
		}
		defer srv.Shutdown(context.Background())
	}
	// A fatal poll error (the namespace deleted, authorisation revoked) stops
	// the SDK's worker for good: the process must then look unready and
	// exit non-zero, so Kubernetes restarts it, rather than answer 200.
	fatal := make(chan error, 1)
	wopts := worker.Options{WorkerStopTimeout: f.StopTimeout, DeploymentOptions: deploymentOptions(), OnFatalError: func(err error) {
		p.polling.Store(false)
		select {
		case fatal <- err:
		default:
		}
	}}
	if f.LogWorkflows {
		wopts.Interceptors = append(wopts.Interceptors, &finishedLogger{})
	}
	if n := cfg.SessionsAtOnce(); n > 0 {
		if wopts.Tuner, err = sessionTuner(n); err != nil {
			return err
		}
	}
	w := worker.New(c, f.TaskQueue, wopts)
	workflows.Register(w, &activities.Activities{Tableau: tc, Health: metrics, Temporal: c})
	// Every worker also polls the lease task queue, whatever its own: the
	// PAT leases of every site and task queue run there.
	leases := worker.New(c, workflows.LeaseTaskQueue, worker.Options{WorkerStopTimeout: f.StopTimeout, DeploymentOptions: wopts.DeploymentOptions, OnFatalError: wopts.OnFatalError})
	workflows.RegisterLeases(leases)
	if err := w.Start(); err != nil {
		return fmt.Errorf("starting the worker on task queue %s: %w", f.TaskQueue, err)
	}
	if err := leases.Start(); err != nil {
		w.Stop()
		return fmt.Errorf("starting the worker on task queue %s: %w", workflows.LeaseTaskQueue, err)
	}
	defer leases.Stop() // after w: running activities release their leases first
	// Deferred after leases.Stop, so it runs before it: a lingering lease goes
	// back while this worker still serves the lease task queue.
	defer fleet.Close()
	p.polling.Store(true)
	logger.Info("tabflow worker started",
		"temporal", opts.HostPort, "namespace", opts.Namespace, "taskQueue", f.TaskQueue, "version", versionLabel(ownVersion()),
		"tableau", cfg.ServerURL, "site", cfg.DisplayName(), "auth", string(cfg.Auth),
		"credential", credentialLabel(cfg), "secret", cfg.MaskedSecret(), "apiVersion", apiVersion(cfg),
		"http", httpLabel(f.HTTPAddress))
	promoting, stopPromoting := context.WithCancel(ctx)
	defer stopPromoting()
	go promoteWhenNewer(promoting, c, logger)
	select {
	case err := <-fatal:
		logger.Error("the worker stopped on a fatal error", "error", err.Error())
		w.Stop()
		return fmt.Errorf("the worker stopped on a fatal error from Temporal: %w", err)
	case <-ctx.Done():
	}
	p.polling.Store(false)
	logger.Info("stopping: no new work; running activities may finish and sign out", "stopTimeout", f.StopTimeout)
	w.Stop()
	logger.Info("tabflow worker stopped")
	return nil
}

// clientOptions are f.Temporal if set, else the SDK's environment
// configuration (TEMPORAL_* variables and the Temporal profile).
func clientOptions(f Flags) (client.Options, error) {
	if f.Temporal != nil {
		return *f.Temporal, nil
	}
	return envconfig.LoadDefaultClientOptions()
}

// Probe asks a probe URL (the container image has no curl) and reports
// whether it answered 200.
func Probe(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "worker"
	}
	return h
}

func httpLabel(addr string) string {
	if addr == "" {
		return "off"
	}
	return addr + " (/metrics, /healthz, /readyz)"
}

// credentialLabel names the credential (never its secret).
func credentialLabel(cfg tableau.Config) string {
	switch cfg.Auth {
	case tableau.AuthJWT:
		return "connected app " + cfg.JWT.ClientID + " as " + cfg.JWT.Username
	case tableau.AuthPassword:
		return "user " + cfg.Username
	case tableau.AuthUAT:
		return "UAT of " + cfg.UAT.Issuer + " as " + cfg.UAT.Username
	default:
		return "PAT " + cfg.PATName
	}
}

func apiVersion(cfg tableau.Config) string { return cfg.EffectiveAPIVersion() }

func indent(err error) error {
	return errors.New("  " + strings.ReplaceAll(err.Error(), "\n", "\n  "))
}
