package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"

	"tabflow/activities"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// updateAccess sends ev as the temporal CLI's execute-update-with-start
// does (and starter): Update-With-Start, conflict policy use-existing,
// waiting for the answer.
func (s *stack) updateAccess(ctx context.Context, taskQueue, user string, in workflows.UserAccessInput, ev workflows.AccessEvent) (workflows.AccessRecord, error) {
	in.User = user
	return workflows.SendAccess(ctx, s.client, taskQueue, in, ev)
}

func TestAccessEntityEndToEnd(t *testing.T) {
	t.Parallel() // mostly waiting, and asserting no timings: shares the machine
	s := startStack(t)
	ctx := testsuite.ContextWithin(t, 3*time.Minute)
	const user = "ana@example.com"
	id := workflows.UserAccessWorkflowID(workflows.TaskQueue, user)
	role := func() string { return s.fake.Role(faketableau.SandboxSite, user) }
	// The entity continues as new every 3 events, so what follows crosses runs.
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
		workflows.UserAccessWorkflow, workflows.UserAccessInput{User: user, MaxEventsPerRun: 3})
	require.NoError(t, err)

	// The answer says applied once Tableau has the role; the CLI prints it.
	r := s.starter(t, "grant", "--user", " "+user, "--role", "Explorer", "--request-id", "r1", "--at", "2026-11-23T10:00:00Z")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "grant Explorer ana@example.com: applied — ana@example.com: site role Unlicensed → Explorer\n", r.stdout, "--user is trimmed")
	assert.Equal(t, "Explorer", role())

	// An invalid update is rejected before it is accepted: no history event.
	_, err = s.updateAccess(ctx, workflows.TaskQueue, user, workflows.UserAccessInput{},
		workflows.AccessEvent{Op: "grant", Role: "Creator", RequestID: "bad-1", Duration: "soon"})
	require.ErrorContains(t, err, `duration "soon" must be a positive Go duration`)
	for _, ev := range fetchHistory(t, s.client, id, "").Events {
		assert.NotContains(t, ev.String(), "bad-1", "the rejected update left no trace in history")
	}

	// Revoking the current role falls back to the grant still held.
	r = s.starter(t, "grant", "--user", user, "--role", "Creator", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	r = s.starter(t, "revoke", "--user", user, "--role", "Creator")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "site role Creator → Explorer (the Creator access revoked; the user still holds Explorer)")
	assert.Equal(t, "Explorer", role())

	// A 6 s grant expires on its own, back to the grant still held.
	r = s.starter(t, "grant", "--user", user, "--role", "SiteAdministratorExplorer", "--for", "6s")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "SiteAdministratorExplorer", role())
	require.Eventually(t, func() bool { return role() == "Explorer" }, 30*time.Second, 200*time.Millisecond, "the grant expired")
	r = s.starter(t, "access", "show", "--user", user)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Explorer until revoked")
	assert.Contains(t, r.stdout, "expired")

	// Oversized fields are rejected, and the entity keeps working.
	huge := strings.Repeat("x", 1400<<10)
	for range 2 {
		require.NoError(t, s.client.SignalWorkflow(ctx, id, "", workflows.AccessSignal, workflows.AccessEvent{Op: "grant", Role: "Viewer", RequestID: huge}))
	}
	_, err = s.updateAccess(ctx, workflows.TaskQueue, user, workflows.UserAccessInput{}, workflows.AccessEvent{Op: "grant", Role: "Viewer", RequestID: huge})
	require.ErrorContains(t, err, "requestId is 1433600 bytes long; at most 256")

	// A failed grant is a failure for the CLI.
	r = s.starter(t, "grant", "--user", "ghost@example.com", "--role", "Viewer")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "failed — Tableau user \"ghost@example.com\" was not found")

	// A typo in --task-queue is caught before anything starts.
	r = s.starter(t, "grant", "--user", user, "--role", "Viewer", "--task-queue", "tablaeu")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `no worker is polling "tablaeu"`)

	// Continue-as-new and a worker restart later, a redelivered grant
	// changes nothing.
	require.NoError(t, s.client.SignalWorkflow(ctx, id, "", workflows.AccessSignal, workflows.AccessEvent{Op: "grant", Role: "Viewer", RequestID: "v1"}))
	s.worker.Stop()
	s.worker = s.startWorker(t, s.fake.PATConfig())
	rec, err := s.updateAccess(ctx, workflows.TaskQueue, user, workflows.UserAccessInput{}, workflows.AccessEvent{Op: "grant", Role: "Explorer", RequestID: "r1", At: "2026-11-23T10:00:00Z"})
	require.NoError(t, err)
	assert.Equal(t, workflows.OutcomeDuplicate, rec.Outcome)
	assert.NotEqual(t, run.GetRunID(), describeRun(t, s, id), "the entity continued as new meanwhile")

	// The signal path (--wait=false) still works.
	r = s.starter(t, "revoke", "--user", user, "--role", "Explorer", "--wait=false")
	require.Equal(t, 0, r.code, r.stderr)
	require.Eventually(t, func() bool { return role() == "Viewer" }, 30*time.Second, 200*time.Millisecond, "the signalled revoke fell back to the Viewer grant")

	res := s.forget(t, id)
	assert.Equal(t, []string{"Viewer"}, grantRoles(res.Grants))
}

// Two sites, one worker and task queue each: the same user has two separate
// entities, and a grant on one site never touches the other.
func TestAccessEntityPerSite(t *testing.T) {
	s := startStack(t)
	siteB := testsuite.StartTableau(t)
	actsB := activities.New(siteB.Client(t, siteB.PATConfig()))
	s.server.NewWorker("site-b", func(r worker.Registry) { workflows.Register(r, actsB) })
	const user = "ben@example.com"

	r := s.starter(t, "grant", "--user", user, "--role", "Creator", "--task-queue", "site-b")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "Creator", siteB.Role(faketableau.SandboxSite, user))
	assert.Equal(t, "Viewer", s.fake.Role(faketableau.SandboxSite, user), "site A untouched")

	r = s.starter(t, "grant", "--user", user, "--role", "Explorer")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "Explorer", s.fake.Role(faketableau.SandboxSite, user))
	assert.Equal(t, "Creator", siteB.Role(faketableau.SandboxSite, user), "site B untouched")

	a := s.forget(t, workflows.UserAccessWorkflowID(workflows.TaskQueue, user))
	b := s.forget(t, workflows.UserAccessWorkflowID("site-b", user))
	assert.Equal(t, []string{"Explorer", "Viewer"}, grantRoles(a.Grants), "Viewer: ben's role in Tableau, kept as the baseline")
	assert.Equal(t, []string{"Creator", "Viewer"}, grantRoles(b.Grants))
}

// 150 events for one user (five roles, grants and revokes interleaved, so
// applied one by one), across forced continue-as-new runs and a worker
// killed mid-way: every event gets exactly one record, in arrival order;
// what was applied reached Tableau once, in order; and the user ends as the
// last event asks. (The test kept the name it had at 300 events.)
func TestAccessEntity300EventsAcrossRunsAndAWorkerKill(t *testing.T) {
	t.Parallel() // mostly waiting, and asserting no timings: shares the machine
	s := startStackWithoutWorker(t)
	s.fake.SetLatency(20 * time.Millisecond) // so events arrive while others are applied
	ctx := testsuite.ContextWithin(t, 4*time.Minute)
	const user, n = "dev@example.com", 150 // events of five roles interleaved are applied one by one
	id := workflows.UserAccessWorkflowID(workflows.TaskQueue, user)
	s.fake.SetRole(faketableau.SandboxSite, user, "Unlicensed")
	first := s.startWorkerProcess(t)
	var firstRunID string
	roles := []string{"Viewer", "Explorer", "ExplorerCanPublish", "SiteAdministratorExplorer", "Creator"}
	for i := range n { // five grants, five revokes, five grants, …
		ev := workflows.AccessEvent{Op: []workflows.Op{workflows.OpGrant, workflows.OpRevoke}[i/5%2], Role: roles[i%5], RequestID: fmt.Sprintf("e%03d", i+1)}
		run, err := s.client.SignalWithStartWorkflow(ctx, id, workflows.AccessSignal, ev, client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue},
			workflows.UserAccessWorkflow, workflows.UserAccessInput{User: user, MaxEventsPerRun: 3})
		require.NoError(t, err)
		if i == 0 {
			firstRunID = run.GetRunID()
		}
		if i == n/2 {
			require.NoError(t, first.Process.Kill()) // SIGKILL mid-stream, likely mid-call
			first.Wait()
			s.startWorkerProcess(t)
		}
	}
	res := s.forget(t, id)
	assert.Equal(t, n, res.Events, "one record per event: none lost, none twice")
	require.Len(t, res.History, n)
	applied := 0
	for i, rec := range res.History {
		assert.Equal(t, fmt.Sprintf("e%03d", i+1), rec.RequestID, "in arrival order")
		assert.Contains(t, []workflows.Outcome{workflows.OutcomeApplied, workflows.OutcomeSuperseded, workflows.OutcomeUnchanged}, rec.Outcome, rec.Message)
		if rec.Outcome == workflows.OutcomeApplied {
			applied++
		}
	}
	var changes []string
	for _, c := range s.fake.RoleChanges() {
		if c.User == user {
			changes = append(changes, c.To)
		}
	}
	for i := 1; i < len(changes); i++ {
		require.NotEqual(t, changes[i-1], changes[i], "change %d: the same change twice", i)
	}
	assert.Equal(t, "Unlicensed", s.fake.Role(faketableau.SandboxSite, user), "the last five events revoke every role")
	t.Logf("%d events: %d role changes in Tableau (%d records applied)", n, len(changes), applied)

	// Walk the chain of runs: each continued as new, none grew large.
	runs, longest := 0, 0
	for runID := firstRunID; runID != ""; runs++ {
		hist := fetchHistory(t, s.client, id, runID)
		longest = max(longest, len(hist.Events))
		last := hist.Events[len(hist.Events)-1]
		runID = last.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
	}
	t.Logf("%d events in %d runs; the longest run has %d history events", n, runs, longest)
	assert.GreaterOrEqual(t, runs, 2, "continued as new at least once")
	assert.Less(t, longest, 2500, "no run's history grows with the input stream")
}

func describeRun(t *testing.T, s *stack, id string) string {
	t.Helper()
	d, err := s.client.DescribeWorkflowExecution(testsuite.Context(t), id, "")
	require.NoError(t, err)
	return d.WorkflowExecutionInfo.Execution.RunId
}

func grantRoles(gs []workflows.Grant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, string(g.Role))
	}
	return out
}

// In the Temporal UI an entity started by starter, and the child that
// carries out its event, each say what they are, and the entity says the
// user's role in Tableau.
func TestAccessEntityAtAGlanceInTheUI(t *testing.T) {
	s := startStack(t)
	ctx := testsuite.Context(t)
	const user = "ben@example.com"
	r := s.starter(t, "grant", "--user", user, "--role", "Creator")
	require.Equal(t, 0, r.code, r.stderr)
	id := workflows.UserAccessWorkflowID(workflows.TaskQueue, user)
	summary := func(workflowID string) string {
		d, err := s.client.DescribeWorkflowExecution(ctx, workflowID, "")
		require.NoError(t, err)
		var text string
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(d.GetExecutionConfig().GetUserMetadata().GetSummary(), &text))
		return text
	}
	assert.Equal(t, "Tableau access of ben@example.com", summary(id))
	assert.Equal(t, "ben@example.com: grant Creator (access event 1)", summary(id+"/1-grant"))
	v, err := s.client.QueryWorkflow(ctx, id, "", "__temporal_workflow_metadata")
	require.NoError(t, err)
	var meta sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&meta))
	assert.Equal(t, "ben@example.com · Tableau role Creator · grants: Creator, Viewer (given in Tableau) · last: grant Creator applied", meta.GetCurrentDetails())
}
