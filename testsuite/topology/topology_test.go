// Package topology proves tabflow on the production topology (SPEC §5.1): a
// Temporal server on PostgreSQL in a process of its own, set up with
// Temporal's own schema tool, and two worker processes sharing one PAT,
// with a worker and the server itself killed mid-run.
package topology

import (
	"context"
	"database/sql"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL driver Temporal's own plugin uses
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
)

const defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// namespace is created through the API, as `temporal operator namespace create` does.
const namespace = "tabflow"

// postgresURL is TABFLOW_POSTGRES_URL, if PostgreSQL answers there; the test
// skips without one unless TABFLOW_REQUIRE_POSTGRES=1 (as .ci/run sets).
func postgresURL(t *testing.T) string {
	u := os.Getenv("TABFLOW_POSTGRES_URL")
	if u == "" {
		u = defaultPostgres
	}
	db, err := sql.Open("pgx", u)
	if err == nil {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		if os.Getenv("TABFLOW_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL is required (TABFLOW_REQUIRE_POSTGRES=1) but %s does not answer: %v", redacted(u), err)
		}
		t.Skipf("no PostgreSQL at %s (%v): set TABFLOW_POSTGRES_URL to a server where user may create databases to run the topology proof", redacted(u), err)
	}
	return u
}

func redacted(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "the configured URL"
}

// binaries builds the worker and the Temporal server once.
func binaries(t *testing.T) (worker, server string) {
	bins, err := testsuite.Build(t.TempDir(), "tabflow/worker", "tabflow/testsuite/topology/temporalserver")
	require.NoError(t, err)
	return bins[0], bins[1]
}

// cluster is the Temporal server process on PostgreSQL.
type cluster struct {
	t          *testing.T
	bin, pgURL string
	port       int
	proc       *exec.Cmd
}

func (c *cluster) address() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)) }

// httpAddress is the frontend's HTTP API, on the port after the services'.
func (c *cluster) httpAddress() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port+9)) }

// start runs the server and waits until its frontend answers.
func (c *cluster) start(ctx context.Context) {
	c.proc = exec.Command(c.bin, "serve", "-url", c.pgURL, "-port", strconv.Itoa(c.port), "-http-port", strconv.Itoa(c.port+9))
	c.proc.Stdout, c.proc.Stderr = os.Stderr, os.Stderr
	require.NoError(c.t, c.proc.Start())
	proc := c.proc
	c.t.Cleanup(func() { proc.Process.Kill(); proc.Wait() })
	require.Eventually(c.t, func() bool {
		cl, err := client.Dial(client.Options{HostPort: c.address(), Namespace: namespace})
		if err != nil {
			return false
		}
		defer cl.Close()
		_, err = cl.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err == nil
	}, 90*time.Second, 500*time.Millisecond, "the Temporal frontend answers")
}

// kill ends the server at once: SIGKILL, no clean stop.
func (c *cluster) kill() {
	require.NoError(c.t, c.proc.Process.Kill())
	c.proc.Wait()
}

// freePortRange finds n consecutive free ports below 32768: Temporal's SQL
// schema keeps membership ports in a smallint.
func freePortRange(t *testing.T, n int) int {
	for base := 20000 + os.Getpid()%1000*10; base+n < 32768; base += n {
		free := true
		for p := base; p < base+n && free; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				free = false
				continue
			}
			l.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no free range of ports")
	return 0
}

// registerNamespace creates tabflow's namespace, as an operator does.
func registerNamespace(t *testing.T, ctx context.Context, address string) {
	nc, err := client.NewNamespaceClient(client.Options{HostPort: address})
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: namespace, WorkflowExecutionRetentionPeriod: durationpb.New(72 * time.Hour),
	}))
	require.Eventually(t, func() bool { // the frontend's namespace cache refreshes every few seconds
		c, err := client.Dial(client.Options{HostPort: address, Namespace: namespace})
		if err != nil {
			return false
		}
		defer c.Close()
		_, err = c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, PageSize: 1})
		return err == nil
	}, time.Minute, 500*time.Millisecond)
}

// workers are the tabflow worker processes, sharing one PAT.
type workers struct {
	t       *testing.T
	bin     string
	env     []string
	running []*exec.Cmd
}

func (w *workers) start() *exec.Cmd {
	cmd := exec.Command(w.bin, "-log-format", "json", "-http-address", "")
	cmd.Env = append(os.Environ(), w.env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(w.t, cmd.Start())
	w.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	w.running = append(w.running, cmd)
	return cmd
}

// holderOf is the worker running id's pending activity, found by the
// identity Temporal recorded for it (the SDK's default: pid@host@).
func (w *workers) holderOf(ctx context.Context, c client.Client, id string) *exec.Cmd {
	var identity string
	require.Eventually(w.t, func() bool {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err != nil || len(d.PendingActivities) == 0 {
			return false
		}
		identity = d.PendingActivities[0].GetLastWorkerIdentity()
		return identity != ""
	}, time.Minute, 100*time.Millisecond, "%s's activity started", id)
	pid, _, _ := strings.Cut(identity, "@")
	for _, cmd := range w.running {
		if strconv.Itoa(cmd.Process.Pid) == pid {
			return cmd
		}
	}
	w.t.Fatalf("no running worker is %s", identity)
	return nil
}

// kill SIGKILLs one worker: no clean stop.
func (w *workers) kill(cmd *exec.Cmd) {
	require.NoError(w.t, cmd.Process.Kill())
	cmd.Wait()
	w.running = slices.DeleteFunc(w.running, func(c *exec.Cmd) bool { return c == cmd })
}

func workerEnv(t *testing.T, address string, fake *testsuite.Tableau) []string {
	return []string{
		"TEMPORAL_ADDRESS=" + address, "TEMPORAL_NAMESPACE=" + namespace,
		"TABLEAU_CONNECTION_FILE=" + filepath.Join(t.TempDir(), "none.json"),
		"TABLEAU_SERVER_URL=" + fake.Host, "TABLEAU_SITE=" + faketableau.SandboxSite, "TABLEAU_CA_FILE=" + fake.CAFile,
		"TABLEAU_PAT_NAME=" + faketableau.SandboxAdminPAT, "TABLEAU_PAT_SECRET=" + faketableau.SandboxAdminSecret,
	}
}
