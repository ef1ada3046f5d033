package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// recordAccessEntity drives an access entity through every path: grants by
// Update-With-Start and by signal (ben's Viewer in Tableau becomes the
// baseline), a duplicate, a stale event, a revoke that falls back to the
// grant still held, a time-bound grant that expires, and forget.
func recordAccessEntity(t *testing.T, s *stack, id string) {
	ctx := testsuite.Context(t)
	user := "ben@example.com"
	start := client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue, WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}
	update := func(ev workflows.AccessEvent) workflows.AccessRecord {
		h, err := s.client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: s.client.NewWithStartWorkflowOperation(start, workflows.UserAccessWorkflow, workflows.UserAccessInput{User: user}),
			UpdateOptions:          client.UpdateWorkflowOptions{UpdateName: workflows.AccessUpdate, Args: []any{ev}, WaitForStage: client.WorkflowUpdateStageCompleted},
		})
		require.NoError(t, err)
		var rec workflows.AccessRecord
		require.NoError(t, h.Get(ctx, &rec))
		return rec
	}
	assert.Equal(t, workflows.OutcomeApplied, update(workflows.AccessEvent{Op: "grant", Role: "Explorer", RequestID: "r1", At: "2026-11-23T10:00:00Z"}).Outcome)
	_, err := s.client.SignalWithStartWorkflow(ctx, id, workflows.AccessSignal,
		workflows.AccessEvent{Op: "grant", Role: "Creator", RequestID: "r2", At: "2026-11-23T10:01:00Z"},
		start, workflows.UserAccessWorkflow, workflows.UserAccessInput{User: user})
	require.NoError(t, err)
	assert.Equal(t, "Explorer", update(workflows.AccessEvent{Op: "revoke", Role: "Creator", RequestID: "r3", At: "2026-11-23T10:02:00Z"}).RoleAfter)
	assert.Equal(t, workflows.OutcomeDuplicate, update(workflows.AccessEvent{Op: "grant", Role: "Explorer", RequestID: "r1", At: "2026-11-23T10:00:00Z"}).Outcome)
	assert.Equal(t, workflows.OutcomeStale, update(workflows.AccessEvent{Op: "grant", Role: "Explorer", RequestID: "r4", At: "2026-11-23T09:00:00Z"}).Outcome)
	assert.Equal(t, "Creator", update(workflows.AccessEvent{Op: "grant", Role: "Creator", RequestID: "r5", Duration: "2s"}).RoleAfter)
	require.Eventually(t, func() bool { return s.fake.Role(faketableau.SandboxSite, user) == "Explorer" }, 30*time.Second, 100*time.Millisecond, "the 2 s grant expires")
	require.Eventually(t, func() bool { // Tableau changes before the entity records it; forget waits for that
		var grants []workflows.Grant
		v, err := s.client.QueryWorkflow(ctx, id, "", workflows.GrantsQuery)
		return err == nil && v.Get(&grants) == nil && !slices.ContainsFunc(grants, func(g workflows.Grant) bool { return g.ExpiresAt != nil })
	}, 30*time.Second, 100*time.Millisecond, "the expiry is recorded")
	res := s.forget(t, id)
	assert.Equal(t, workflows.OutcomeExpired, res.History[len(res.History)-1].Outcome)
}

// TestHistoriesReplay runs Provision and UserAccess on a real server, then
// replays their histories against the current workflow code. With
// TABFLOW_RECORD_HISTORIES=1 it also writes them to workflows/testdata, where
// the workflows package replays them on every run, so an edit that breaks
// determinism for histories already in production fails CI.
func TestHistoriesReplay(t *testing.T) {
	s := startStack(t)
	var prov workflows.ProvisionResult
	require.NoError(t, s.run(t, testsuite.RecordedHistories["provision.json"], workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Creator"}, &prov))
	require.True(t, prov.Changed)

	recordAccessEntity(t, s, testsuite.RecordedHistories["useraccess-entity-v3.json"])
	recordGates(t, s)
	runs := recordLeases(t, s)

	for name, wfID := range testsuite.RecordedHistories {
		if testsuite.FrozenHistories[name] {
			assert.NoError(t, testsuite.ReplayHistoryFile(filepath.Join("..", "..", "workflows", "testdata", name), wfID), name)
			continue
		}
		hist := fetchHistory(t, s.client, wfID, runs[name])
		data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), name)
		if os.Getenv("TABFLOW_RECORD_HISTORIES") != "" {
			path = filepath.Join("..", "..", "workflows", "testdata", name)
		}
		require.NoError(t, os.WriteFile(path, data, 0o644))
		assert.NoError(t, testsuite.ReplayHistoryFile(path, wfID), name)
	}
}

// recordGates runs the current side of the version gates outside the
// entity: a Deprovision that reads licensing groups (licensing-checks) and
// a Reconcile that applies a change through an entity (reconcile-compare).
func recordGates(t *testing.T, s *stack) {
	var dep workflows.DeprovisionResult
	require.NoError(t, s.run(t, testsuite.RecordedHistories["deprovision.json"], workflows.DeprovisionWorkflow,
		workflows.DeprovisionInput{User: "chloe@example.com", Role: "Explorer"}, &dep))
	require.True(t, dep.Changed)
	require.NotEmpty(t, dep.Warnings, "chloe is in a group that licenses at sign-in")

	ctx := testsuite.ContextWithin(t, time.Minute)
	_, err := workflows.SendAccess(ctx, s.client, workflows.TaskQueue, workflows.UserAccessInput{User: "ana@example.com"}, workflows.AccessEvent{Op: "grant", Role: "Explorer", RequestID: "g1"})
	require.NoError(t, err)
	s.fake.SetRole(faketableau.SandboxSite, "ana@example.com", "Viewer") // a hand edit
	var plan workflows.ReconcilePlan
	require.NoError(t, s.run(t, testsuite.RecordedHistories["reconcile.json"], workflows.ReconcileWorkflow, workflows.ReconcileInput{Mode: workflows.ReconcileAuto}, &plan))
	require.Equal(t, 1, plan.Applied, plan.Message)
}

func fetchHistory(t *testing.T, c client.Client, id, runID string) *historypb.History {
	t.Helper()
	ctx, cancel := context.WithTimeout(testsuite.Context(t), 30*time.Second)
	defer cancel()
	iter := c.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		hist.Events = append(hist.Events, ev)
	}
	return hist
}
