package testsuite

import (
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"tabflow/workflows"
)

// RecordedHistories maps each file in workflows/testdata to the workflow ID
// it was recorded under: replay must use the original ID, since UserAccess
// derives its child workflow IDs from it. TestHistoriesReplay (testsuite/e2e)
// records them anew, but for FrozenHistories.
var RecordedHistories = map[string]string{
	"provision.json": "replay-provision",
	// The current side of the gates outside the entity: a Deprovision that
	// reads licensing groups, a Reconcile applying through an entity.
	"deprovision.json": "replay-deprovision",
	"reconcile.json":   "replay-reconcile",
	"useraccess.json":  "tableau-access/ben@example.com",
	// useraccess.json with its third signal replaced by one carrying a field
	// version 1 did not know (duration): version 1 rejected it, so a later
	// AccessEvent field must not make it start a child on replay.
	"useraccess-v1-duration.json": "tableau-access/ben@example.com",
	// An entity of version 2 (global staleness, no baseline), frozen.
	"useraccess-entity.json": workflows.UserAccessWorkflowID(workflows.TaskQueue, "ben@example.com"),
	// The entity with the rules of SPEC §3.1 (patch version 2).
	"useraccess-entity-v3.json": workflows.UserAccessWorkflowID(workflows.TaskQueue, "ben@example.com"),
	// An entity of main at 9fb2f57, before the equivalence rule: events
	// waiting together (coalesced by main's rules), signals arriving during
	// a child, a reconcile event of main's shape and an `at` from the
	// future; runs started then replay through useraccess_legacy.go.
	"useraccess-entity-main.json": workflows.UserAccessWorkflowID(workflows.TaskQueue, "ben@example.com"),
	// A Reconcile of main at 9fb2f57 in approve mode, its plan built (every
	// entity's grants, then the users' pages) and waiting for approval: the
	// run an upgraded worker replays (workflows/reconcile_legacy.go).
	"reconcile-main.json": "reconcile/main",
	// Recorded on the production topology (testsuite/topology with
	// TABFLOW_RECORD_HISTORIES=1): an entity's last run (grants, an expiry
	// after a server restart, continued as new) and a PAT lease handed
	// between two workers (its ID named the fake's address; nothing in it
	// depends on the ID). Re-recording writes them all: keep the ones of
	// earlier versions as they are.
	"topology-useraccess.json": workflows.UserAccessWorkflowID(workflows.TaskQueue, "ana@example.com"),
	"topology-patlease.json":   workflows.PATLeaseWorkflowID("topology"),
	// The current lease protocol (PATLeaseV2) on the same topology.
	"topology-patlease-v2.json": workflows.PATLeaseV2WorkflowID("topology"),
	// Lease workflows through their version gates: the first protocol's
	// move to the lease task queue (lease-queue, the run started on the
	// site's queue) and a withdrawn waiter (lease-withdraw); and the
	// current protocol (PATLeaseV2).
	"patlease-queue.json":    workflows.PATLeaseWorkflowID("replay-queue"),
	"patlease-withdraw.json": workflows.PATLeaseWorkflowID("replay-withdraw"),
	"patlease-v2.json":       workflows.PATLeaseV2WorkflowID("replay"),
	// An entity begun by a release of version 1 (3ecb7b6) and continued
	// by the current code after an upgrade: it crosses the hand-off gate
	// (access-rules-v3) live (testsuite/e2e TestEntityOfAnOlderReleaseHandsOverLive).
	"useraccess-handoff.json": workflows.UserAccessWorkflowID(workflows.TaskQueue, "ben@example.com"),
}

// FrozenHistories were recorded by earlier versions of tabflow, which can no
// longer produce them: they prove that runs started then still replay.
// useraccess.json is an access entity of version 1 (per-user ID, idle timer),
// useraccess-entity.json one of version 2; the topology files are recorded
// by testsuite/topology, not by TestHistoriesReplay.
var FrozenHistories = map[string]bool{"useraccess.json": true, "useraccess-handoff.json": true, "useraccess-v1-duration.json": true, "useraccess-entity.json": true, "useraccess-entity-main.json": true, "reconcile-main.json": true,
	"topology-useraccess.json": true, "topology-patlease.json": true, "topology-patlease-v2.json": true}

// ReplayHistoryFile replays a JSON history (as `temporal workflow show
// --output json` writes it) against the current workflow code.
func ReplayHistoryFile(path, workflowID string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		return err
	}
	replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: workflows.DataConverter})
	if err != nil {
		return err
	}
	for name, fn := range workflows.All {
		replayer.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
	return replayer.ReplayWorkflowHistoryWithOptions(nil, hist, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: workflowID},
	})
}
