// Command dev runs everything tabflow needs on a laptop in one process: an
// embedded Temporal server (SQLite file) with its Web UI, a sandbox Tableau
// site when no Tableau connection is configured, and the worker. It is for
// development only; production runs ./worker against a real Temporal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"go.temporal.io/sdk/client"

	"tabflow/app"
	"tabflow/testsuite/devserver"
	"tabflow/testsuite/faketableau"
)

func main() {
	var f app.Flags
	var db string
	var port, uiPort, sandboxPort int
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./dev [flags]\n\nTemporal + Web UI + (sandbox Tableau) + the tabflow worker, in one process.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	err := f.Register(fs)
	fs.StringVar(&db, "db", "tabflow-dev/temporal.db", "SQLite file for Temporal's state (empty = in memory); the sandbox keeps its users' roles beside it")
	fs.IntVar(&port, "port", 7233, "Temporal gRPC port")
	fs.IntVar(&uiPort, "ui-port", 8233, "Temporal Web UI port")
	fs.IntVar(&sandboxPort, "sandbox-port", 7243, "sandbox Tableau port (a fixed one: the PAT's lease workflow is named after the server, port included)")
	logger := app.ParseOrExit(fs, &f, os.Args[1:], err)
	f.LogWorkflows = true
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f, db, port, uiPort, sandboxPort, logger); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f app.Flags, db string, port, uiPort, sandboxPort int, logger *slog.Logger) error {
	sandbox := !tableauConfigured(f.ConnectionFile)
	if db != "" {
		dir := filepath.Dir(db)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		holder := fmt.Sprintf("pid %d; Temporal at 127.0.0.1:%d, Web UI at http://127.0.0.1:%d", os.Getpid(), port, uiPort)
		if sandbox {
			holder += fmt.Sprintf(", sandbox Tableau on port %d", sandboxPort)
		}
		release, err := lockStateDir(dir, holder)
		if err != nil {
			return err
		}
		defer release()
	}
	// Every address dev will listen on, checked first, so a taken one is
	// named in one line rather than failing half-way through start-up.
	local := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	// (A dev on this state directory was refused above: whatever holds a
	// port uses other state, and a second dev needs its own -db too.)
	const ownDB = " (a second dev also needs its own -db)"
	addrs := []app.Listener{{Addr: local(port), Flag: "-port" + ownDB, Likely: "a Temporal server (a dev on other state, or temporal server start-dev)"},
		{Addr: local(uiPort), Flag: "-ui-port" + ownDB, Likely: "a Temporal Web UI (a dev on other state, or temporal server start-dev)"}}
	if sandbox {
		addrs = append(addrs, app.Listener{Addr: local(sandboxPort), Flag: "-sandbox-port" + ownDB, Likely: "another dev's sandbox Tableau"})
	}
	if f.HTTPAddress != "" {
		addrs = append(addrs, app.Listener{Addr: f.HTTPAddress, Flag: "-http-address (metrics and probes; empty turns them off)", Likely: "a tabflow worker's metrics, or another program"})
	}
	if err := app.CheckFree(addrs); err != nil {
		return err
	}
	logger.Info("starting the embedded Temporal server", "db", db)
	srv, err := devserver.Start(devserver.Options{DBFile: db, Port: port, UIPort: uiPort})
	if err != nil {
		return fmt.Errorf("starting the dev Temporal server: %w", err)
	}
	defer srv.Stop()
	// Only dev's own server, whatever the user's Temporal profile says (TLS
	// or an API key for Temporal Cloud would fail against it).
	f.Temporal = &client.Options{HostPort: srv.FrontendAddr, Namespace: srv.Namespace}
	logger.Info("Temporal is running", "address", srv.FrontendAddr, "namespace", srv.Namespace, "ui", srv.UIURL)

	if sandbox {
		stopSandbox, err := startSandbox(db, sandboxPort, logger)
		if err != nil {
			return err
		}
		defer stopSandbox()
	}
	return app.Run(ctx, f, logger)
}

// startSandbox runs the sandbox Tableau site and points the worker at it.
// Its users' roles are kept beside the Temporal database, so they agree with
// Temporal's history after a restart.
func startSandbox(db string, port int, logger *slog.Logger) (stop func(), err error) {
	sandbox, err := faketableau.New(faketableau.WithAddr(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))))
	if err != nil {
		return nil, err
	}
	faketableau.SeedSandbox(sandbox)
	if db != "" {
		if err := sandbox.PersistRoles(filepath.Join(filepath.Dir(db), "sandbox-roles.json")); err != nil {
			sandbox.Close()
			return nil, fmt.Errorf("sandbox roles: %w", err)
		}
	}
	caPath, err := sandbox.WriteCACert(os.TempDir())
	if err != nil {
		sandbox.Close()
		return nil, err
	}
	for k, v := range map[string]string{
		"TABLEAU_SERVER_URL": sandbox.Host, "TABLEAU_SITE": faketableau.SandboxSite, "TABLEAU_CA_FILE": caPath,
		"TABLEAU_AUTH_METHOD": "pat", "TABLEAU_PAT_NAME": faketableau.SandboxAdminPAT, "TABLEAU_PAT_SECRET": faketableau.SandboxAdminSecret,
	} {
		os.Setenv(k, v)
	}
	logger.Warn("no Tableau connection configured: using the SANDBOX Tableau site (a fake, not a real Tableau)",
		"url", sandbox.URL, "users", faketableau.SandboxUsers(sandbox))
	return sandbox.Close, nil
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
