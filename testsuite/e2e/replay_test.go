package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
	"tabflow/workflows"
)

// TestHistoriesReplay runs Provision and UserAccess on a real server, then
// replays their histories against the current workflow code. With
// TABFLOW_RECORD_HISTORIES=1 it also writes them to workflows/testdata, where
// the workflows package replays them on every run, so an edit that breaks
// determinism for histories already in production fails CI.
func TestHistoriesReplay(t *testing.T) {
	s := startStack(t)
	ctx := testsuite.Context(t)

	var prov workflows.ProvisionResult
	require.NoError(t, s.run(t, testsuite.RecordedHistories["provision.json"], workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Creator"}, &prov))
	require.True(t, prov.Changed)

	id := testsuite.RecordedHistories["useraccess.json"]
	run, err := s.client.SignalWithStartWorkflow(ctx, id, workflows.AccessSignal,
		workflows.AccessEvent{Op: "grant", Role: "Explorer", RequestID: "r1", At: "2026-11-23T10:00:00Z"},
		client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue}, workflows.UserAccessWorkflow,
		workflows.UserAccessInput{User: "ben@example.com", IdleTimeout: "3s"})
	require.NoError(t, err)
	for _, ev := range []workflows.AccessEvent{
		{Op: "revoke", Role: "Explorer", RequestID: "r2", At: "2026-11-23T10:01:00Z"},
		{Op: "grant", Role: "Explorer", RequestID: "r1", At: "2026-11-23T10:00:00Z"},
		{Op: "grant", Role: "Viewer", RequestID: "r3", At: "2026-11-23T09:00:00Z"},
	} {
		require.NoError(t, s.client.SignalWorkflow(ctx, id, "", workflows.AccessSignal, ev))
	}
	var access workflows.UserAccessResult
	require.NoError(t, run.Get(ctx, &access))
	require.Len(t, access.History, 4)

	for name, wfID := range testsuite.RecordedHistories {
		hist := fetchHistory(t, s.client, wfID, "")
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
