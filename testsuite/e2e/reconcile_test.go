package e2e

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// Three entities, two roles changed behind tabflow's back: the plan lists
// exactly those two; auto with maxChanges 1 applies nothing; an approved
// plan restores both through the entities; a grant made while a plan waits
// is not undone by it.
func TestReconcileDriftPlanApproveApply(t *testing.T) {
	s := startStack(t)
	ctx := testsuite.ContextWithin(t, 3*time.Minute)
	role := func(u string) string { return s.fake.Role(faketableau.SandboxSite, u) }
	for user, r := range map[string]string{"ana@example.com": "Explorer", "chloe@example.com": "Explorer", "newhire@example.com": "Creator"} {
		_, err := s.updateAccess(ctx, workflows.TaskQueue, user, workflows.UserAccessInput{}, workflows.AccessEvent{Op: "grant", Role: r})
		require.NoError(t, err)
	}
	// An entity with another site's ID on this task queue (it refuses every event) is not this site's.
	_, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.UserAccessWorkflowID("site-b", "dev@example.com"), TaskQueue: workflows.TaskQueue},
		workflows.UserAccessWorkflow, workflows.UserAccessInput{User: "dev@example.com"})
	require.NoError(t, err)
	s.fake.SetRole(faketableau.SandboxSite, "ana@example.com", "Creator")    // a hand promotion
	s.fake.SetRole(faketableau.SandboxSite, "newhire@example.com", "Viewer") // a hand demotion

	var plan workflows.ReconcilePlan
	r := s.starter(t, "reconcile", "--json", "--inactive-days", "60")
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &plan))
	assert.Equal(t, []workflows.DriftChange{{User: "ana@example.com", Expected: "Explorer", Actual: "Creator"}, {User: "newhire@example.com", Expected: "Creator", Actual: "Viewer"}}, plan.Changes)
	assert.Equal(t, []workflows.InactiveUser{{User: "newhire@example.com", Role: "Viewer"}}, plan.Inactive, "never signed in; ana and chloe signed in 46 days ago")
	assert.Equal(t, "Creator", role("ana@example.com"), "a plan changes nothing")
	assert.NotContains(t, plan.Message, "not on the site", "the misrouted entity is not counted")
	t.Logf("plan: %s", plan.Message)

	r = s.starter(t, "reconcile", "--apply", "--max-changes", "1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "2 changes, more than maxChanges 1: nothing applied")
	assert.Equal(t, "Viewer", role("newhire@example.com"))

	// Publish for approval; meanwhile ana is granted Creator for real.
	r = s.starter(t, "reconcile", "--approve", "--id", "reconcile-approve")
	require.Equal(t, 0, r.code, r.stderr)
	m := regexp.MustCompile(`--plan-id (\S+)`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	rec, err := s.updateAccess(ctx, workflows.TaskQueue, "ana@example.com", workflows.UserAccessInput{}, workflows.AccessEvent{Op: "grant", Role: "Creator"})
	require.NoError(t, err)
	require.Equal(t, workflows.OutcomeUnchanged, rec.Outcome, "already Creator by hand")
	r = s.starter(t, "reconcile", "approve", "--id", "reconcile-approve", "--plan-id", "someone-elses")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `planId "someone-elses" is not the plan this run waits for`)
	assert.NotContains(t, r.stderr, m[1], "the refusal does not print the plan to approve")
	r = s.starter(t, "reconcile", "approve", "--id", "reconcile-approve", "--plan-id", m[1], "--json")
	require.Equal(t, 0, r.code, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &plan))
	assert.Equal(t, 1, plan.Applied, "newhire restored; ana's plan line is moot: her Creator is a grant now")
	assert.Equal(t, "Creator", role("newhire@example.com"))
	assert.Equal(t, "Creator", role("ana@example.com"), "the plan did not undo the grant made while it waited")
	r = s.starter(t, "reconcile", "approve", "--id", "reconcile-approve", "--plan-id", m[1])
	assert.Equal(t, 1, r.code, "an approval after the run ended")
	assert.Contains(t, r.stderr, "reconcile-approve is no longer waiting for approval: the run ended: ")
	assert.Contains(t, r.stderr, "Make a new plan with: starter reconcile --approve")
	assert.NotContains(t, r.stderr, "already completed", "said in words, not Temporal's")

	var history []workflows.AccessRecord
	v, err := s.client.QueryWorkflow(ctx, workflows.UserAccessWorkflowID(workflows.TaskQueue, "newhire@example.com"), "", workflows.HistoryQuery)
	require.NoError(t, err)
	require.NoError(t, v.Get(&history))
	last := history[len(history)-1]
	assert.Equal(t, workflows.OpReconcile, last.Op)
	assert.Equal(t, workflows.OutcomeApplied, last.Outcome)
	assert.Equal(t, m[1], last.RequestID, "the entity's history names the plan")
}

// A revoke for a member of a group that licenses at sign-in names the
// group; Deprovision of a content owner names what she owns.
func TestRevokeWarningsAndOwnedContentThroughTheCLI(t *testing.T) {
	s := startStack(t)
	// The sandbox's "Sales (AD)" group licenses chloe as Explorer at sign-in.
	r := s.starter(t, "revoke", "--user", "chloe@example.com", "--role", "Explorer")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `warning: group "Sales (AD)" licenses its members as Explorer at sign-in`)
	assert.Equal(t, "Unlicensed", s.fake.Role(faketableau.SandboxSite, "chloe@example.com"), "carried out all the same")

	for _, c := range []faketableau.Content{
		{Type: "workbook", Title: "Board Pack", OwnerName: "ben@example.com"},
		{Type: "workbook", Title: "Churn", OwnerName: "ben@example.com"},
		{Type: "datasource", Title: "Warehouse", OwnerName: "ben@example.com"},
	} {
		s.fake.AddContent(faketableau.SandboxSite, c)
	}
	r = s.starter(t, "deprovision", "--user", "ben@example.com", "--role", "Viewer")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "ben@example.com still owns 2 workbooks (Board Pack, Churn), 1 data source (Warehouse)")
}

// Reconcile over a site of 100,000 users completes with a small result.
func TestReconcileOver100000Users(t *testing.T) {
	s := startStack(t)
	s.fake.AddUsers(faketableau.SandboxSite, 100_000, "Viewer")
	ctx := testsuite.ContextWithin(t, 4*time.Minute)
	_, err := s.updateAccess(ctx, workflows.TaskQueue, "user00042@example.com", workflows.UserAccessInput{}, workflows.AccessEvent{Op: "grant", Role: "Explorer"})
	require.NoError(t, err)
	s.fake.SetRole(faketableau.SandboxSite, "user00042@example.com", "Creator")
	start := time.Now()
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue}, workflows.ReconcileWorkflow, workflows.ReconcileInput{InactiveDays: 30})
	require.NoError(t, err)
	var plan workflows.ReconcilePlan
	require.NoError(t, run.Get(ctx, &plan))
	size, _ := json.Marshal(plan)
	t.Logf("100,007 users reconciled in %s; result %d bytes: %s", time.Since(start).Round(time.Millisecond), len(size), plan.Message)
	assert.Less(t, len(size), 256<<10)
	assert.Equal(t, []workflows.DriftChange{{User: "user00042@example.com", Expected: "Explorer", Actual: "Creator"}}, plan.Changes)
	assert.Equal(t, 99_999+5, plan.Unmanaged.Count, "every licensed user without an entity is counted (and the sandbox's five)")
	assert.Len(t, plan.Unmanaged.Users, 100)
}

// `starter reconcile schedule` makes plan runs a Temporal Schedule; a run
// says in its current details how many users drifted.
func TestReconcileSchedule(t *testing.T) {
	s := startStack(t)
	ctx := testsuite.ContextWithin(t, 2*time.Minute)
	_, err := s.updateAccess(ctx, workflows.TaskQueue, "ana@example.com", workflows.UserAccessInput{}, workflows.AccessEvent{Op: "grant", Role: "Viewer"})
	require.NoError(t, err)
	s.fake.SetRole(faketableau.SandboxSite, "ana@example.com", "Creator")
	r := s.starter(t, "reconcile", "schedule", "--every", "1h")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "schedule tabflow-reconcile/tableau created: a Reconcile plan every 1h0m0s")
	h := s.client.ScheduleClient().GetHandle(ctx, "tabflow-reconcile/tableau")
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
	var runID string // Temporal names each run reconcile/tableau-{time}
	require.Eventually(t, func() bool {
		d, err := h.Describe(ctx)
		if err != nil || len(d.Info.RecentActions) == 0 {
			return false
		}
		runID = d.Info.RecentActions[0].StartWorkflowResult.WorkflowID
		return true
	}, time.Minute, 200*time.Millisecond)
	run := s.client.GetWorkflow(ctx, runID, "")
	var plan workflows.ReconcilePlan
	require.NoError(t, run.Get(ctx, &plan))
	assert.Contains(t, plan.Message, "1 user drifted from their grants")
	v, err := s.client.QueryWorkflow(ctx, runID, "", "__temporal_workflow_metadata")
	require.NoError(t, err)
	var meta sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&meta))
	assert.Contains(t, meta.GetCurrentDetails(), "1 user drifted from their grants", "the UI shows the count")
}
