package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
	"tabflow/workflows"
)

// recordLeases drives the lease workflows through their version gates on a
// real server and returns the run to record for each history file (empty:
// the latest). The first protocol (still run for older workers): a lease
// started on a site's task queue moves to the lease queue (lease-queue),
// and a waiter that gives up is answered (lease-withdraw). The current one:
// asks, a status, a claim, a renew, a waiter that stops asking, releases.
func recordLeases(t *testing.T, s *stack) map[string]string {
	ctx := testsuite.ContextWithin(t, 2*time.Minute)
	s.server.NewWorker(workflows.LeaseTaskQueue, workflows.RegisterLeases)
	runs := map[string]string{}

	// lease-queue: started on the site's queue, it continues as new on the lease queue.
	queueID := testsuite.RecordedHistories["patlease-queue.json"]
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queueID, TaskQueue: workflows.TaskQueue},
		workflows.PATLeaseWorkflow, workflows.PATLeaseInput{TTL: 10 * time.Second, Holder: "a", Expires: time.Now().Add(5 * time.Second)})
	require.NoError(t, err)
	runs["patlease-queue.json"] = run.GetRunID()
	require.Eventually(t, func() bool {
		d, err := s.client.DescribeWorkflowExecution(ctx, queueID, "")
		return err == nil && d.GetWorkflowExecutionInfo().GetTaskQueue() == workflows.LeaseTaskQueue
	}, 30*time.Second, 100*time.Millisecond, "moved to the lease task queue")

	// lease-withdraw: b waits behind a, gives up, and its acquire is answered.
	withdrawID := testsuite.RecordedHistories["patlease-withdraw.json"]
	legacy := func(name, holder string, wait bool) (workflows.LeaseGrant, error) {
		opts := client.UpdateWorkflowOptions{WorkflowID: withdrawID, UpdateName: name, Args: []any{workflows.LeaseRequest{Holder: holder}}, WaitForStage: client.WorkflowUpdateStageCompleted}
		if !wait {
			opts.WaitForStage = client.WorkflowUpdateStageAccepted
		}
		h, err := s.client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: s.client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{ID: withdrawID, TaskQueue: workflows.LeaseTaskQueue,
				WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}, workflows.PATLeaseWorkflow, workflows.PATLeaseInput{TTL: 10 * time.Second}),
			UpdateOptions: opts,
		})
		var grant workflows.LeaseGrant
		if err == nil && wait {
			err = h.Get(ctx, &grant)
		}
		if err == nil && !wait {
			go h.Get(context.WithoutCancel(ctx), &grant)
		}
		return grant, err
	}
	_, err = legacy(workflows.LeaseAcquire, "a", true)
	require.NoError(t, err)
	_, err = legacy(workflows.LeaseAcquire, "b", false) // waits
	require.NoError(t, err)
	_, err = legacy(workflows.LeaseRelease, "b", true) // gives up: its acquire is answered Withdrawn
	require.NoError(t, err)
	_, err = legacy(workflows.LeaseRelease, "a", true)
	require.NoError(t, err)

	// The current protocol.
	v2ID := testsuite.RecordedHistories["patlease-v2.json"]
	ask := func(holder string) {
		_, err := s.client.SignalWithStartWorkflow(ctx, v2ID, workflows.LeaseAsk, workflows.LeaseRequest{Holder: holder, TTL: 10 * time.Second, Urgency: 1},
			client.StartWorkflowOptions{ID: v2ID, TaskQueue: workflows.LeaseTaskQueue}, workflows.PATLeaseV2Workflow, workflows.PATLeaseV2Input{TTL: 10 * time.Second})
		require.NoError(t, err)
	}
	status := func(holder string) workflows.LeaseStatus {
		v, err := s.client.QueryWorkflow(ctx, v2ID, "", workflows.LeaseStatusQuery, holder)
		require.NoError(t, err)
		var st workflows.LeaseStatus
		require.NoError(t, v.Get(&st))
		return st
	}
	renew := func(holder string) error {
		h, err := s.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: v2ID, UpdateName: workflows.LeaseRenew,
			Args: []any{workflows.LeaseRequest{Holder: holder}}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			err = h.Get(ctx, nil)
		}
		return err
	}
	ask("a")
	ask("b")
	ask("gone") // never asks again: dropped
	require.True(t, status("a").Held)
	require.NoError(t, renew("a"))
	require.Error(t, renew("b"), "only the holder renews")
	require.NoError(t, s.client.SignalWorkflow(ctx, v2ID, "", workflows.LeaseRelease, workflows.LeaseRequest{Holder: "a"}))
	require.Eventually(t, func() bool { return status("b").Held }, 10*time.Second, 50*time.Millisecond, "b is offered the lease")
	require.NoError(t, renew("b"))
	require.Eventually(t, func() bool { ask("b"); return len(status("").Waiters) == 0 }, 20*time.Second, time.Second, "the waiter that stopped asking is dropped")
	require.NoError(t, s.client.SignalWorkflow(ctx, v2ID, "", workflows.LeaseRelease, workflows.LeaseRequest{Holder: "b"}))
	assert.Eventually(t, func() bool { return status("").Holder == "" }, 10*time.Second, 50*time.Millisecond)
	return runs
}
