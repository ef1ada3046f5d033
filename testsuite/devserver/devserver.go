// Package devserver runs a single-process Temporal server: for local
// development SQLite persistence (a file, or memory) and the Temporal Web
// UI, with nothing downloaded at run time (what `go run ./dev` starts); for
// the topology proof (testsuite/topology) the same server on PostgreSQL.
// Production workers connect to a real Temporal cluster instead.
package devserver

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"

	"tabflow/testsuite/serverconfig"
)

// Options configure a dev server.
type Options struct {
	DBFile    string // SQLite file; empty keeps everything in memory
	IP        string // default 127.0.0.1
	Port      int    // gRPC frontend; default 7233
	UIPort    int    // Web UI; default 8233; -1 disables it
	Namespace string // default "default"
	// HTTPPort serves the frontend's HTTP API (what docker-compose.yml's
	// healthcheck asks); 0 turns it off.
	HTTPPort int
	LogLevel string // server log level: debug, info, warn, error (default)
	// Logger receives the server's lines (default: slog's default logger).
	Logger *slog.Logger
	// Stores, if set, are SQL databases whose schema is already set up
	// (PostgreSQL in testsuite/topology): no SQLite, and the namespace is
	// created through the API once the server runs. Ports are then
	// Port … Port+7, so a restarted server rejoins as the same hosts.
	Stores *Stores
}

// Stores are a cluster's two databases.
type Stores struct {
	Default, Visibility *config.SQL
	HistoryShards       int32
}

// Server is a running dev server.
type Server struct {
	FrontendAddr string // host:port for Temporal clients
	UIURL        string // empty when the UI is off
	Namespace    string
	temporal     temporal.Server
	ui           *uiserver.Server
	quiet        *atomic.Bool // the server's log
}

const clusterName = "active"

// Start runs the server (and UI) until Stop.
func Start(o Options) (*Server, error) {
	if o.IP == "" {
		o.IP = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = 7233
	}
	if o.UIPort == 0 {
		o.UIPort = 8233
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.LogLevel == "" {
		o.LogLevel = "error"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Stores != nil {
		return start(o, o.Stores)
	}
	sqlCfg := &config.SQL{PluginName: sqliteplugin.PluginName, ConnectAttributes: map[string]string{}, DatabaseName: o.DBFile}
	if o.DBFile == "" {
		sqlCfg.ConnectAttributes["mode"], sqlCfg.ConnectAttributes["cache"] = "memory", "shared"
		sqlCfg.DatabaseName = "tabflow-dev-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	} else {
		sqlCfg.ConnectAttributes["mode"] = "rwc"
		if err := os.MkdirAll(filepath.Dir(o.DBFile), 0o755); err != nil {
			return nil, err
		}
		if _, err := os.Stat(o.DBFile); errors.Is(err, os.ErrNotExist) {
			if err := sqlite.SetupSchema(sqlCfg); err != nil {
				return nil, fmt.Errorf("creating the Temporal database %s: %w", o.DBFile, err)
			}
		} else if err := forgetMembers(o.DBFile); err != nil {
			return nil, fmt.Errorf("the Temporal database %s: %w", o.DBFile, err)
		}
	}
	ns, err := sqlite.NewNamespaceConfig(clusterName, o.Namespace, false, nil)
	if err != nil {
		return nil, err
	}
	if err := sqlite.CreateNamespaces(sqlCfg, ns); err != nil { // a no-op when it exists
		return nil, err
	}
	return start(o, &Stores{Default: sqlCfg, Visibility: sqlCfg, HistoryShards: 1})
}

// forgetMembers removes the cluster members an earlier run recorded in the
// database. Their services listened on ports of that run, now gone; kept,
// they would hold the new run's services up for a minute, trying to join
// them ("Not enough hosts to serve the request").
func forgetMembers(dbFile string) error {
	db, err := sql.Open("sqlite", "file:"+dbFile)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec("DELETE FROM cluster_membership")
	return err
}

func start(o Options, stores *Stores) (*Server, error) {
	cfg, err := serverConfig(o, stores)
	if err != nil {
		return nil, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", o.LogLevel, err)
	}
	logger := serverLog{to: o.Logger, min: level, quiet: new(atomic.Bool)}
	logger.quiet.Store(true)
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(serverconfig.Dynamic()), // one partition a task queue: Priority orders it all
	)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("starting Temporal: %w", err)
	}
	logger.quiet.Store(false)
	s := &Server{FrontendAddr: net.JoinHostPort(o.IP, strconv.Itoa(o.Port)), Namespace: o.Namespace, temporal: srv, quiet: logger.quiet}
	if o.UIPort > 0 {
		s.ui = uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
			Host:                o.IP,
			Port:                o.UIPort,
			TemporalGRPCAddress: s.FrontendAddr,
			EnableUI:            true,
			DefaultNamespace:    o.Namespace,
			HideLogs:            true,
			DisableNewsFetch:    true, // no network beyond this machine
			// The UI is served over plain http on localhost.
			CORS: uiconfig.CORS{CookieInsecure: true},
		}))
		go s.ui.Start()
		s.UIURL = fmt.Sprintf("http://%s", net.JoinHostPort(o.IP, strconv.Itoa(o.UIPort)))
	}
	return s, nil
}

// Stop shuts the UI and the server down, quietly.
func (s *Server) Stop() {
	s.quiet.Store(true)
	if s.ui != nil {
		s.ui.Stop()
	}
	s.temporal.Stop()
}

func serverConfig(o Options, stores *Stores) (*config.Config, error) {
	ports, err := freePorts(o.IP, 8)
	if err != nil {
		return nil, err
	}
	if o.Stores != nil {
		for i := range ports {
			ports[i] = o.Port + 1 + i
		}
	}
	service := func(grpc, membership int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpc, MembershipPort: membership, BindOnIP: o.IP}}
	}
	frontend := net.JoinHostPort(o.IP, strconv.Itoa(o.Port))
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: o.IP},
			Metrics:    &metrics.Config{Prometheus: &metrics.PrometheusConfig{ListenAddress: net.JoinHostPort(o.IP, strconv.Itoa(ports[6])), HandlerPath: "/metrics"}},
		},
		Persistence: config.Persistence{
			DefaultStore: "default", VisibilityStore: "visibility", NumHistoryShards: stores.HistoryShards,
			DataStores: map[string]config.DataStore{"default": {SQL: stores.Default}, "visibility": {SQL: stores.Visibility}},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10, MasterClusterName: clusterName, CurrentClusterName: clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend}},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": frontendService(service(o.Port, ports[0]), o.HTTPPort),
			"history":  service(ports[1], ports[2]),
			"matching": service(ports[3], ports[4]),
			"worker":   service(ports[5], ports[7]),
		},
		Archival: config.Archival{History: config.HistoryArchival{State: "disabled"}, Visibility: config.VisibilityArchival{State: "disabled"}},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History: config.HistoryArchivalNamespaceDefaults{State: "disabled"}, Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: frontend},
	}, nil
}

func frontendService(s config.Service, httpPort int) config.Service {
	s.RPC.HTTPPort = httpPort
	return s
}

// freePorts asks the OS for n ports that are free right now.
func freePorts(ip string, n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
