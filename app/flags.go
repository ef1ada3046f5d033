// Package app is the tabflow worker as a program: its settings, logging,
// metrics and probes, and the run loop. The production worker (./worker)
// and the development command (./dev) share it, so neither copies the other.
package app

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	"tabflow/tableau"
	"tabflow/workflows"
)

// Flags are the worker's settings, from flags or their environment variables.
type Flags struct {
	TaskQueue      string
	ConnectionFile string
	LogFormat      string
	LogLevel       string
	StopTimeout    time.Duration
	HTTPAddress    string // metrics and probes; empty turns them off
	// LogWorkflows logs one INFO line per finished workflow (the dev
	// command sets it).
	LogWorkflows bool
	// Temporal, when set, is the whole connection to Temporal: the
	// environment and the user's Temporal profile (TLS, an API key for
	// Temporal Cloud) are not read. The dev command sets it for its own
	// server.
	Temporal *client.Options
}

// DefaultStopTimeout lets a role change in flight finish and sign out (one
// Tableau request is bounded by TABLEAU_TIMEOUT, 30 s by default). Kubernetes
// kills a pod terminationGracePeriodSeconds after SIGTERM: set that above it.
const DefaultStopTimeout = 30 * time.Second

// DefaultHTTPAddress serves /metrics, /healthz and /readyz on loopback only;
// in a container set TABFLOW_HTTP_ADDRESS=:9090.
const DefaultHTTPAddress = "localhost:9090"

// Register adds the worker's flags to fs, with defaults from the environment.
func (f *Flags) Register(fs *flag.FlagSet) error {
	stop, err := time.ParseDuration(EnvOr("TABFLOW_STOP_TIMEOUT", DefaultStopTimeout.String()))
	if err != nil || stop < 0 {
		return fmt.Errorf("TABFLOW_STOP_TIMEOUT must be a duration such as 30s")
	}
	fs.StringVar(&f.TaskQueue, "task-queue", EnvOr("TABFLOW_TASK_QUEUE", workflows.TaskQueue), "task queue to poll (env TABFLOW_TASK_QUEUE); one per Tableau site")
	fs.StringVar(&f.ConnectionFile, "connection", EnvOr("TABLEAU_CONNECTION_FILE", tableau.DefaultConnectionFile()), "Tableau connection file, as `starter connection set` writes it (env TABLEAU_CONNECTION_FILE)")
	fs.StringVar(&f.LogFormat, "log-format", EnvOr("TABFLOW_LOG_FORMAT", "text"), "text (for people) or json (for machines) (env TABFLOW_LOG_FORMAT)")
	fs.StringVar(&f.LogLevel, "log-level", EnvOr("TABFLOW_LOG_LEVEL", "info"), "debug, info, warn or error (env TABFLOW_LOG_LEVEL)")
	fs.DurationVar(&f.StopTimeout, "stop-timeout", stop, "on SIGTERM, how long running activities may take to finish and sign out (env TABFLOW_STOP_TIMEOUT)")
	httpAddr, set := os.LookupEnv("TABFLOW_HTTP_ADDRESS")
	if !set {
		httpAddr = DefaultHTTPAddress
	}
	fs.StringVar(&f.HTTPAddress, "http-address", httpAddr, "address for /metrics, /healthz and /readyz; empty turns them off (env TABFLOW_HTTP_ADDRESS)")
	return nil
}

// Check validates what flag parsing cannot.
func (f *Flags) Check() error {
	if f.LogFormat != "text" && f.LogFormat != "json" {
		return fmt.Errorf("-log-format %q must be text or json", f.LogFormat)
	}
	return nil
}

// EnvOr is the environment variable name, or def when it is unset or empty.
func EnvOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// ParseOrExit parses args with fs (on which f is registered, with any flags
// of the command's own), checks them and builds the logger. Help exits 0;
// bad flags print one line and exit 2, before anything starts.
func ParseOrExit(fs *flag.FlagSet, f *Flags, args []string, registerErr error) *slog.Logger {
	err := registerErr
	if err == nil {
		err = fs.Parse(args)
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err == nil {
		err = f.Check()
	}
	var logger *slog.Logger
	if err == nil {
		logger, err = NewLogger(os.Stderr, f.LogFormat, f.LogLevel)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", fs.Name(), err)
		os.Exit(2)
	}
	return logger
}
