// Package quickstart runs README's quick start as a newcomer does, with the
// built dev and starter commands: on a fresh directory, then again after a
// restart of dev on the state it left.
package quickstart

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
)

func TestQuickStartAndRestart(t *testing.T) {
	bins, err := testsuite.Build(t.TempDir(), "tabflow/dev", "tabflow/starter")
	require.NoError(t, err)
	q := &quickStart{t: t, devBin: bins[0], starterBin: bins[1], dir: t.TempDir(), ports: freePorts(t, 4)}

	first := q.startDev()
	assert.Contains(t, first.text(), "ana@ (Unlicensed)", "the banner lists the sandbox's users")
	q.secondDevIsRefused()
	assert.Equal(t, "ana@example.com: site role Unlicensed → Explorer\n", q.starter("provision", "--user", "ana@example.com", "--role", "Explorer"))
	first.stop()

	again := q.startDev()
	assert.Equal(t, "ana@example.com already has site role Explorer: nothing to change\n",
		q.starter("provision", "--user", "ana@example.com", "--role", "Explorer"), "the restarted dev serves at once, and the sandbox kept ana's role")
	again.stop()
	log := again.text()
	assert.Contains(t, log, "ana@ (Explorer)", "the banner shows the roles as they are now")
	assert.NotContains(t, log, "Not enough hosts", "no stale cluster members to join")
	line := regexp.MustCompile(`^\d\d:\d\d:\d\d (DBG|INF|WRN|ERR) `)
	for l := range strings.Lines(log) {
		assert.Regexp(t, line, l, "every line of dev's log in one format")
	}

	again = q.startDev() // the lease workflow is named after the sandbox's address
	defer again.stop()
	c, err := client.Dial(client.Options{HostPort: q.temporal()})
	require.NoError(t, err)
	defer c.Close()
	leases, err := c.CountWorkflow(testsuite.Context(t), &workflowservice.CountWorkflowExecutionsRequest{Query: `WorkflowType="PATLeaseV2" AND ExecutionStatus="Running"`})
	require.NoError(t, err)
	assert.Equal(t, int64(1), leases.GetCount(), "restarts share the PAT's one lease workflow")
}

type quickStart struct {
	t                  *testing.T
	devBin, starterBin string
	dir                string
	ports              []int
}

func (q *quickStart) temporal() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(q.ports[0]))
}

// env is a newcomer's: no Tableau connection, no Temporal settings.
func (q *quickStart) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TABLEAU_") && !strings.HasPrefix(kv, "TEMPORAL_") {
			env = append(env, kv)
		}
	}
	return append(env, "XDG_CONFIG_HOME="+q.dir+"/config", "TEMPORAL_ADDRESS="+q.temporal())
}

// devEnv is a developer's whose Temporal settings point at Temporal Cloud
// (a profile with TLS and an API key, and the same in variables): dev
// must use its own server whatever they say.
func (q *quickStart) devEnv() []string {
	profile := filepath.Join(q.dir, "cloud-user", "temporalio", "temporal.toml")
	require.NoError(q.t, os.MkdirAll(filepath.Dir(profile), 0o755))
	require.NoError(q.t, os.WriteFile(profile, []byte(`[profile.default]
address = "example.tmprl.cloud:7233"
namespace = "production.a1b2c"
api_key = "not-a-real-key"
[profile.default.tls]
`), 0o600))
	return append(q.env(), "XDG_CONFIG_HOME="+filepath.Dir(filepath.Dir(profile)),
		"TEMPORAL_ADDRESS=example.tmprl.cloud:7233", "TEMPORAL_NAMESPACE=production.a1b2c", "TEMPORAL_API_KEY=not-a-real-key", "TEMPORAL_TLS=true")
}

// secondDevIsRefused starts another dev in the same directory, on other
// ports, as dev's own port hint once led people to: it must refuse before
// touching the state, naming the first's ports.
func (q *quickStart) secondDevIsRefused() {
	other := freePorts(q.t, 4)
	cmd := exec.CommandContext(testsuite.ContextWithin(q.t, time.Minute), q.devBin, "-port", strconv.Itoa(other[0]), "-ui-port", strconv.Itoa(other[1]),
		"-sandbox-port", strconv.Itoa(other[2]), "-http-address", fmt.Sprintf("127.0.0.1:%d", other[3]))
	cmd.Dir, cmd.Env = q.dir, q.devEnv()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(q.t, err, &exit, "a second dev on the same state must not run:\n%s", out)
	assert.Equal(q.t, 1, exit.ExitCode())
	assert.Contains(q.t, string(out), "tabflow-dev is in use by another dev", "%s", out)
	assert.Contains(q.t, string(out), "Temporal at "+q.temporal(), "it names the first's ports")
	assert.NotContains(q.t, string(out), "starting the embedded Temporal server")
}

// devProcess is a running dev and its log.
type devProcess struct {
	t   *testing.T
	cmd *exec.Cmd
	log testsuite.SyncBuffer
}

func (d *devProcess) text() string { return d.log.String() }

// startDev runs dev in the quick start's directory, on free ports, until its
// worker has started.
func (q *quickStart) startDev() *devProcess {
	d := &devProcess{t: q.t}
	d.cmd = exec.Command(q.devBin, "-port", strconv.Itoa(q.ports[0]), "-ui-port", strconv.Itoa(q.ports[1]),
		"-sandbox-port", strconv.Itoa(q.ports[2]), "-http-address", fmt.Sprintf("127.0.0.1:%d", q.ports[3]))
	d.cmd.Dir, d.cmd.Env, d.cmd.Stdout, d.cmd.Stderr = q.dir, q.devEnv(), &d.log, &d.log
	require.NoError(q.t, d.cmd.Start())
	q.t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(d.text(), "tabflow worker started") {
		require.True(q.t, time.Now().Before(deadline), "dev did not start its worker in 2 minutes:\n%s", d.text())
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

// stop is Ctrl-C.
func (d *devProcess) stop() {
	if d.cmd.ProcessState != nil {
		return
	}
	require.NoError(d.t, d.cmd.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(d.t, err, "dev exits 0 on Ctrl-C:\n%s", d.text())
	case <-time.After(time.Minute):
		d.t.Fatalf("dev did not stop in a minute after Ctrl-C:\n%s", d.text())
	}
}

// starter runs the starter and returns what it printed.
func (q *quickStart) starter(args ...string) string {
	cmd := exec.CommandContext(testsuite.Context(q.t), q.starterBin, append(args, "--timeout", "1m")...)
	cmd.Dir, cmd.Env = q.dir, q.env()
	out, err := cmd.Output()
	var stderr []byte
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	require.NoError(q.t, err, "starter %s: %s%s", strings.Join(args, " "), out, stderr)
	return string(out)
}

func freePorts(t *testing.T, n int) []int {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
