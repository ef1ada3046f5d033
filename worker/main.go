// Command worker is tabflow's Temporal worker: it connects to Temporal,
// registers every tabflow workflow and activity, and carries access decisions
// into one Tableau site. With -dev it also runs an embedded Temporal server
// with the Web UI, and a sandbox Tableau site when none is configured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"
	"github.com/mattn/go-isatty"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"tabflow/activities"
	"tabflow/tableau"
	"tabflow/workflows"
)

type flags struct {
	taskQueue      string
	connectionFile string
	logFormat      string
	logLevel       string
	stopTimeout    time.Duration
	dev            bool
	devDB          string
	devPort        int
	devUIPort      int
}

func parseFlags(args []string) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: worker [flags]

Runs the tabflow Temporal worker for one Tableau site. Temporal is configured
with TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*
or a TEMPORAL_PROFILE; Tableau with TABLEAU_* variables or a connection file
(see README). With -dev, everything runs in this one process.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.taskQueue, "task-queue", envOr("TABFLOW_TASK_QUEUE", workflows.TaskQueue), "task queue to poll (env TABFLOW_TASK_QUEUE); one per Tableau site")
	fs.StringVar(&f.connectionFile, "connection", envOr("TABLEAU_CONNECTION_FILE", tableau.DefaultConnectionFile()), "Tableau connection file, as `starter connection set` writes it (env TABLEAU_CONNECTION_FILE)")
	fs.StringVar(&f.logFormat, "log-format", envOr("TABFLOW_LOG_FORMAT", "text"), "text (for people) or json (for machines)")
	fs.StringVar(&f.logLevel, "log-level", envOr("TABFLOW_LOG_LEVEL", "info"), "debug, info, warn or error")
	stop, err := time.ParseDuration(envOr("TABFLOW_STOP_TIMEOUT", defaultStopTimeout.String()))
	if err != nil || stop < 0 {
		return f, fmt.Errorf("TABFLOW_STOP_TIMEOUT must be a duration such as 30s")
	}
	fs.DurationVar(&f.stopTimeout, "stop-timeout", stop, "on SIGTERM, how long running activities may take to finish and sign out (env TABFLOW_STOP_TIMEOUT)")
	fs.BoolVar(&f.dev, "dev", false, "also run an embedded Temporal server with the Web UI (and a sandbox Tableau if none is configured)")
	fs.StringVar(&f.devDB, "dev-db", "tabflow-dev/temporal.db", "with -dev: SQLite file for Temporal's state (empty = in memory)")
	fs.IntVar(&f.devPort, "dev-port", 7233, "with -dev: Temporal gRPC port")
	fs.IntVar(&f.devUIPort, "dev-ui-port", 8233, "with -dev: Temporal Web UI port")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.logFormat != "text" && f.logFormat != "json" {
		return f, fmt.Errorf("-log-format %q must be text or json", f.logFormat)
	}
	return f, nil
}

// defaultStopTimeout lets a role change in flight finish and sign out (one
// Tableau request is bounded by TABLEAU_TIMEOUT, 30 s by default). Kubernetes
// kills a pod terminationGracePeriodSeconds after SIGTERM: set that above it.
const defaultStopTimeout = 30 * time.Second

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q must be debug, info, warn or error", level)
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})), nil
	}
	noColor := !isatty.IsTerminal(os.Stderr.Fd())
	return slog.New(tint.NewTextHandler(os.Stderr, &tint.Options{Level: lvl, TimeFormat: "15:04:05", NoColor: noColor})), nil
}

func main() {
	f, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	logger, err := newLogger(f.logFormat, f.logLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	if err := run(f, logger); err != nil {
		logger.Error("worker stopped", "error", err)
		os.Exit(1)
	}
}

func run(f flags, logger *slog.Logger) error {
	var (
		stopDev func()
		err     error
	)
	if f.dev {
		if stopDev, err = startDev(f, logger); err != nil {
			return err
		}
		defer stopDev()
	}
	cfg, err := tableau.LoadConfig(f.connectionFile, os.LookupEnv)
	if err != nil {
		return fmt.Errorf("Tableau connection is not valid:\n%w", indent(err))
	}
	tc, err := tableau.NewClient(cfg, tableau.WithLogger(logger))
	if err != nil {
		return err
	}
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return fmt.Errorf("Temporal client configuration: %w", err)
	}
	opts.Logger = sdklog.NewStructuredLogger(logger)
	if opts.HostPort == "" {
		opts.HostPort = client.DefaultHostPort
	}
	if opts.Namespace == "" {
		opts.Namespace = client.DefaultNamespace
	}
	c, err := client.DialContext(context.Background(), opts)
	if err != nil {
		return fmt.Errorf("connecting to Temporal at %s: %w", opts.HostPort, err)
	}
	defer c.Close()

	// On SIGTERM the worker stops polling and gives running activities
	// stopTimeout to finish, so their sessions sign out instead of being cut.
	w := worker.New(c, f.taskQueue, worker.Options{WorkerStopTimeout: f.stopTimeout})
	workflows.Register(w, activities.New(tc))
	logger.Info("tabflow worker started",
		"temporal", opts.HostPort, "namespace", opts.Namespace, "taskQueue", f.taskQueue,
		"tableau", cfg.ServerURL, "site", cfg.DisplayName(), "auth", string(cfg.Auth),
		"credential", credentialLabel(cfg), "secret", cfg.MaskedSecret(), "apiVersion", apiVersion(cfg))
	return w.Run(worker.InterruptCh())
}

// credentialLabel names the credential (never its secret).
func credentialLabel(cfg tableau.Config) string {
	switch cfg.Auth {
	case tableau.AuthJWT:
		return "connected app " + cfg.JWT.ClientID + " as " + cfg.JWT.Username
	case tableau.AuthPassword:
		return "user " + cfg.Username
	default:
		return "PAT " + cfg.PATName
	}
}

func apiVersion(cfg tableau.Config) string {
	if cfg.APIVersion == "" {
		return tableau.DefaultAPIVersion
	}
	return cfg.APIVersion
}

func indent(err error) error {
	return errors.New("  " + strings.ReplaceAll(err.Error(), "\n", "\n  "))
}

// tableauConfigured reports whether any Tableau connection is set, in the
// environment or the connection file.
func tableauConfigured(connectionFile string) bool {
	if _, ok := os.LookupEnv("TABLEAU_SERVER_URL"); ok {
		return true
	}
	_, err := os.Stat(connectionFile)
	return !errors.Is(err, fs.ErrNotExist)
}
