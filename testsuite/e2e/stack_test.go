// Package e2e runs tabflow end to end: a real in-process Temporal server
// (temporaltest), real workers, and the fake Tableau over TLS. It is the one
// test package that links the Temporal server.
package e2e

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"

	"tabflow/activities"
	"tabflow/tableau"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/testsuite/serverconfig"
	"tabflow/workflows"
)

// stack is one running tabflow: Temporal server, fake Tableau, a worker.
type stack struct {
	server *temporaltest.TestServer
	fake   *testsuite.Tableau
	client client.Client
	worker worker.Worker
}

func startStack(t testing.TB) *stack {
	t.Helper()
	s := startStackWithoutWorker(t)
	s.worker = s.startWorker(t, s.fake.PATConfig())
	return s
}

// startWorker starts a worker on the default task queue with cfg's credentials.
func (s *stack) startWorker(t testing.TB, cfg tableau.Config, opts ...tableau.Option) worker.Worker {
	t.Helper()
	acts := activities.New(s.fake.Client(t, cfg, opts...))
	acts.Temporal = s.client
	return s.server.NewWorker(workflows.TaskQueue, func(r worker.Registry) { workflows.Register(r, acts) })
}

// run starts a workflow and waits for its result.
func (s *stack) run(t *testing.T, id, workflowType string, input, result any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(testsuite.Context(t), time.Minute)
	defer cancel()
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflowType, input)
	require.NoError(t, err)
	return run.Get(ctx, result)
}

// workerCmd is the worker binary, configured for this stack's Temporal
// server and fake Tableau (PAT auth), not yet started.
func (s *stack) workerCmd(t testing.TB, ctx context.Context, args ...string) *exec.Cmd {
	// No metrics server unless asked: several workers run side by side.
	cmd := exec.CommandContext(ctx, bin.worker, append([]string{"-log-format", "json", "-http-address", ""}, args...)...)
	cmd.Env = append(os.Environ(), append(s.temporalEnv(),
		"TABLEAU_CONNECTION_FILE="+filepath.Join(t.TempDir(), "none.json"),
		"TABLEAU_SERVER_URL="+s.fake.Host, "TABLEAU_SITE=sandbox", "TABLEAU_CA_FILE="+s.fake.CAFile,
		"TABLEAU_PAT_NAME="+faketableau.SandboxAdminPAT, "TABLEAU_PAT_SECRET="+faketableau.SandboxAdminSecret)...)
	return cmd
}

// startWorkerProcess starts the worker binary, killed with the test.
func (s *stack) startWorkerProcess(t *testing.T) *exec.Cmd {
	cmd := s.workerCmd(t, context.Background())
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// forget ends a user's access entity (the forget update) once its queued
// events are applied, and returns its final state.
func (s *stack) forget(t *testing.T, id string) workflows.UserAccessResult {
	t.Helper()
	ctx := testsuite.ContextWithin(t, 2*time.Minute)
	h, err := s.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.ForgetUpdate, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	var res workflows.UserAccessResult
	require.NoError(t, s.client.GetWorkflow(ctx, id, "").Get(ctx, &res))
	return res
}

// startStackWithoutWorker starts the server and fake only.
func startStackWithoutWorker(tb testing.TB) *stack {
	tb.Helper()
	s := &stack{fake: testsuite.StartTableau(tb)}
	// Workers decode inputs as the worker binary does (workflows.DataConverter).
	opts := client.Options{DataConverter: workflows.DataConverter}
	// The server runs with the dynamic configuration the docs recommend
	// (one partition a task queue), plus what temporaltest sets itself.
	dynamic := serverconfig.Dynamic()
	dynamic[dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key()] = []dynamicconfig.ConstrainedValue{{Value: true}}
	server := temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(dynamic))
	if t, ok := tb.(*testing.T); ok {
		s.server = temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(opts), server)
	} else { // benchmarks: temporaltest's own logger needs a *testing.T
		opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
		s.server = temporaltest.NewServer(temporaltest.WithBaseClientOptions(opts), server)
		tb.Cleanup(s.server.Stop)
	}
	s.client = s.server.GetDefaultClient()
	return s
}

func faketableauSecret(s string) tableau.Secret { return tableau.NewSecret(s) }

func decodeBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
