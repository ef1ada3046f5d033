// Command temporalserver is the Temporal cluster of the topology proof
// (SPEC §5.1), in a process of its own so a test can kill it:
//
//	temporalserver setup-schema -url postgres://… -db tabflow_temporal -visibility-db tabflow_temporal_visibility
//	temporalserver serve        -url postgres://… -db … -visibility-db … -port 7233
//
// setup-schema drops and recreates both databases and applies Temporal's own
// schema with temporal-sql-tool, the tool of the server version in go.mod
// (as temporalio/admin-tools runs it in docker-compose.yml). serve runs the
// frontend, history, matching and worker services on them until SIGTERM.
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	sqltool "go.temporal.io/server/tools/sql"

	"tabflow/testsuite/devserver"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: temporalserver setup-schema|serve [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	pgURL := fs.String("url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server")
	db := fs.String("db", "tabflow_temporal", "Temporal's database")
	visibility := fs.String("visibility-db", "tabflow_temporal_visibility", "Temporal's visibility database")
	port := fs.Int("port", 7233, "frontend gRPC port; the other services use the next 8 (all below 32768: Temporal's SQL schema keeps membership ports in a smallint)")
	httpPort := fs.Int("http-port", 0, "frontend HTTP API port (0: off)")
	logLevel := fs.String("log-level", "warn", "server log level")
	fs.Parse(os.Args[2:])
	pg, err := parse(*pgURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "temporalserver:", err)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "setup-schema":
		for name, schema := range map[string]string{*db: "postgresql/v12/temporal", *visibility: "postgresql/v12/visibility"} {
			run := func(global []string, cmd ...string) error {
				return sqltool.RunTool(append(append(append([]string{"temporal-sql-tool"}, global...), pg.toolArgs(name)...), cmd...))
			}
			_ = run([]string{"--quiet"}, "drop-database", "--force") // absent on the first run
			for _, cmd := range [][]string{{"create-database"}, {"setup-schema", "-v", "0.0"}, {"update-schema", "--schema-name", schema}} {
				if err := run(nil, cmd...); err != nil {
					fmt.Fprintf(os.Stderr, "temporalserver: %s on %s: %v\n", cmd[0], name, err)
					os.Exit(1)
				}
			}
		}
	case "serve":
		srv, err := devserver.Start(devserver.Options{Port: *port, HTTPPort: *httpPort, UIPort: -1, LogLevel: *logLevel, Stores: &devserver.Stores{
			Default: pg.sql(*db), Visibility: pg.sql(*visibility), HistoryShards: 4,
		}})
		if err != nil {
			fmt.Fprintln(os.Stderr, "temporalserver:", err)
			os.Exit(1)
		}
		fmt.Printf("temporal frontend on %s\n", srv.FrontendAddr)
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		srv.Stop()
	default:
		fmt.Fprintf(os.Stderr, "temporalserver: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

type postgres struct{ host, port, user, password string }

func parse(raw string) (postgres, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return postgres{}, fmt.Errorf("-url must be postgres://user@host:port/db, not %q", raw)
	}
	p := postgres{host: u.Hostname(), port: u.Port(), user: u.User.Username()}
	p.password, _ = u.User.Password()
	if p.port == "" {
		p.port = "5432"
	}
	return p, nil
}

// toolArgs are temporal-sql-tool's connection flags.
func (p postgres) toolArgs(db string) []string {
	args := []string{"--plugin", postgresql.PluginName, "--endpoint", p.host, "--port", p.port, "--user", p.user, "--database", db}
	if p.password != "" {
		args = append(args, "--password", p.password)
	}
	return args
}

func (p postgres) sql(db string) *config.SQL {
	return &config.SQL{PluginName: postgresql.PluginName, DatabaseName: db, ConnectAddr: p.host + ":" + p.port, ConnectProtocol: "tcp",
		User: p.user, Password: p.password, MaxConns: 20, MaxIdleConns: 20}
}
