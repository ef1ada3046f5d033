package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// A crowd on one PAT (SPEC §2): twelve worker processes share it through a
// real Temporal server, Tableau answering in 20 ms a call, with enough
// sessions that the lease workflow continues as new while workers wait.
// Every provision completes, Tableau never sees two sessions of the PAT at
// once, no update is refused, no lease workflow task fails by its own code,
// and the whole run stays within twice the serial Tableau bound (every call
// one after another, as one PAT allows).
func TestFleetCrowdOfTwelveWorkersOnOnePAT(t *testing.T) {
	const workers, provisions, latency = 12, 400, 20 * time.Millisecond
	s := startStackWithoutWorker(t)
	s.fake.AddUsers(faketableau.SandboxSite, provisions, "Unlicensed")
	var logs []*testsuite.SyncBuffer
	for range workers {
		log := &testsuite.SyncBuffer{}
		cmd := s.workerCmd(t, context.Background())
		cmd.Stdout, cmd.Stderr = log, log
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		logs = append(logs, log)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker 0's log:\n%s", logs[0].String())
		}
	})
	require.Eventually(t, func() bool { // (a task queue's pollers are spread over its partitions: not all show)
		return !slices.ContainsFunc(logs, func(l *testsuite.SyncBuffer) bool { return !strings.Contains(l.String(), "tabflow worker started") })
	}, time.Minute, 100*time.Millisecond, "every worker started")
	s.fake.SetLatency(latency)
	s.fake.ResetCounters()
	took := s.provisionTimed(t, "crowd", provisions)
	bound := time.Duration(s.fake.Count("")) * latency
	ratio := took.Seconds() / bound.Seconds()

	ctx := testsuite.ContextWithin(t, time.Minute)
	runs, events, failed := leaseRuns(ctx, t, s)
	t.Logf("%d provisions, %d workers, one PAT, %s a call: %s, %.2f× the serial bound (%s, %d requests); %d lease workflow runs, %d lease events",
		provisions, workers, latency, took.Round(100*time.Millisecond), ratio, bound.Round(100*time.Millisecond), s.fake.Count(""), runs, events)
	assert.Zero(t, s.fake.Collisions(), "never two live sessions of the PAT")
	assert.Zero(t, s.fake.CutOffCalls(), "no call was cut off")
	assert.Equal(t, 1, s.fake.PeakConcurrency(), "Tableau never saw two requests of the PAT at once")
	assert.Greater(t, runs, 1, "the lease workflow continued as new with workers waiting")
	assert.Empty(t, failed, "no lease workflow task failed by its own code")
	for i, log := range logs {
		for _, refused := range []string{"in-flight", "ResourceExhausted", "PAT lease", "waiting for this PAT's lease"} {
			assert.NotContains(t, log.String(), refused, "worker %d's log", i)
		}
	}
	assert.LessOrEqual(t, ratio, 2.0, "within twice the serial Tableau bound")
}

// leaseRuns counts the runs of lease workflows and their events, and lists
// the workflow task failures the lease workflow's own code caused (not a
// signal that raced a continue-as-new, which Temporal retries by design).
func leaseRuns(ctx context.Context, t *testing.T, s *stack) (runs, events int, failed []string) {
	resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType = '" + workflows.PATLeaseV2Workflow + "'"})
	require.NoError(t, err)
	for _, e := range resp.GetExecutions() {
		runs++
		it := s.client.GetWorkflowHistory(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			events++
			if f := ev.GetWorkflowTaskFailedEventAttributes(); f != nil && f.GetCause() != enumspb.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND &&
				f.GetCause() != enumspb.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE {
				failed = append(failed, f.GetCause().String()+": "+strings.TrimSpace(f.GetFailure().GetMessage()))
			}
		}
	}
	return runs, events, failed
}
