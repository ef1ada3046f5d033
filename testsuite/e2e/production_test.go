package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"tabflow/testsuite"
)

// The production worker is lean: no Temporal server, Web UI or fake Tableau
// linked in, and a size that fits a small image.
func TestProductionWorkerIsLean(t *testing.T) {
	out, err := exec.Command("go", "version", "-m", bin.worker).Output()
	require.NoError(t, err)
	for _, dev := range []string{"go.temporal.io/server", "github.com/temporalio/ui-server", "modernc.org/sqlite"} {
		assert.NotContains(t, string(out), dev, "the production worker links no development kit")
	}
	info, err := os.Stat(bin.worker)
	require.NoError(t, err)
	t.Logf("worker binary: %.1f MB", float64(info.Size())/1e6)
	assert.Less(t, info.Size(), int64(45e6), "under ~45 MB")
}

// The worker serves metrics and probes: /metrics carries the SDK's metrics
// and tabflow's own after a provision; /readyz turns unready within seconds
// of losing Temporal while /healthz stays up.
func TestWorkerMetricsAndProbes(t *testing.T) {
	s := startStackWithoutWorker(t)
	ctx, cancel := context.WithTimeout(testsuite.Context(t), 2*time.Minute)
	defer cancel()
	addr := testsuite.UnusedAddr(t)
	cmd := s.workerCmd(t, ctx, "-http-address", addr)
	var logs testsuite.SyncBuffer
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	require.Eventually(t, func() bool { code, _ := get("/readyz"); return code == 200 }, 30*time.Second, 100*time.Millisecond, "ready once polling:\n%s", logs.String())
	code, body := get("/healthz")
	assert.Equal(t, 200, code, body)

	r := s.starter(t, "provision", "--user", "ana@example.com", "--role", "Explorer")
	require.Equal(t, 0, r.code, r.stderr)
	code, body = get("/metrics")
	require.Equal(t, 200, code)
	assert.Contains(t, body, `tabflow_tableau_requests_total{endpoint="/api/{version}/sites/{id}/users/{id}",method="PUT",status="200"} 1`)
	assert.Contains(t, body, `tabflow_tableau_requests_total{endpoint="/api/{version}/auth/signin",method="POST",status="200"} 2`)
	assert.Contains(t, body, "tabflow_tableau_request_duration_seconds_bucket")
	assert.Contains(t, body, "tabflow_pat_session_wait_seconds_count 2")
	assert.Contains(t, body, "temporal_workflow_completed", "the SDK's own metrics")
	assert.NotContains(t, body, "ana@example.com", "no user name in a label")

	r = s.starter(t, "healthcheck")
	require.Equal(t, 0, r.code, r.stderr)
	_, body = get("/metrics")
	assert.Contains(t, body, `tabflow_health_check_ok{check="user_scope"} 1`)
	assert.Contains(t, body, "tabflow_pat_expires_in_seconds 1.5")

	start := time.Now()
	s.server.Stop()
	require.Eventually(t, func() bool { code, _ := get("/readyz"); return code == 503 }, 15*time.Second, 200*time.Millisecond, "unready once Temporal is gone")
	t.Logf("/readyz turned unready %s after Temporal stopped", time.Since(start).Round(100*time.Millisecond))
	code, _ = get("/healthz")
	assert.Equal(t, 200, code, "the process is still up")
	assert.False(t, strings.Contains(logs.String(), "panic"), logs.String())
}

// A worker whose namespace is deleted under it must not look healthy: it
// turns unready within seconds (and, once the SDK gives its pollers up, the
// process exits non-zero, so Kubernetes restarts it).
func TestWorkerTurnsUnreadyWhenItsNamespaceIsDeleted(t *testing.T) {
	s := startStackWithoutWorker(t)
	ctx, cancel := context.WithTimeout(testsuite.Context(t), 3*time.Minute)
	defer cancel()
	const doomed = "doomed"
	_, err := s.client.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: doomed, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	require.NoError(t, err)
	addr := testsuite.UnusedAddr(t)
	cmd := s.workerCmd(t, ctx, "-http-address", addr)
	cmd.Env = append(cmd.Env, "TEMPORAL_NAMESPACE="+doomed)
	var logs testsuite.SyncBuffer
	cmd.Stderr = &logs
	require.Eventually(t, func() bool { // the new namespace reaches the frontend's cache
		_, err := s.client.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: doomed})
		return err == nil
	}, 30*time.Second, 200*time.Millisecond)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := func() int {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Eventually(t, func() bool { return ready() == 200 }, time.Minute, 200*time.Millisecond, "ready once polling:\n%s", logs.String())

	_, err = s.server.GetDefaultClient().OperatorService().DeleteNamespace(ctx, &operatorservice.DeleteNamespaceRequest{Namespace: doomed})
	require.NoError(t, err)
	deleted := time.Now()
	require.Eventually(t, func() bool { return ready() == 503 }, time.Minute, 200*time.Millisecond, "unready once the namespace is gone:\n%s", logs.String())
	t.Logf("/readyz turned 503 %s after the namespace was deleted (the SDK gives the worker up after a 2-minute grace; the process then exits non-zero)", time.Since(deleted).Round(100*time.Millisecond))
}
