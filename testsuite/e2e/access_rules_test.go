package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"tabflow/tableau"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// Tableau is down while a thousand events arrive for one user: nothing is
// refused, the queue stays one event per role, and once Tableau is back the
// user ends in the state the last events ask for, in a handful of calls.
func TestAccessEntityBacklogDuringAnOutage(t *testing.T) {
	t.Parallel() // mostly waiting, and asserting no timings: shares the machine
	s := startStack(t)
	ctx := testsuite.ContextWithin(t, 3*time.Minute)
	const user = "ana@example.com"
	id := workflows.UserAccessWorkflowID(workflows.TaskQueue, user)
	start := client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}
	down := s.fake.Inject(faketableau.Fault{Refuse: true})
	var wg sync.WaitGroup
	answers := make([]workflows.AccessRecord, 3)
	for i, ev := range []workflows.AccessEvent{
		{Op: "grant", Role: "Creator", RequestID: "first"},
		{Op: "grant", Role: "Explorer", RequestID: "middle"},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			answers[i], err = s.updateAccess(ctx, workflows.TaskQueue, user, workflows.UserAccessInput{}, ev)
			assert.NoError(t, err)
		}()
		time.Sleep(200 * time.Millisecond)
	}
	for i := range 100 { // interleaved roles are applied one by one once Tableau is back: 100, not 1,000
		ev := workflows.AccessEvent{Op: []workflows.Op{workflows.OpGrant, workflows.OpRevoke}[i%2], Role: []string{"Creator", "Explorer", "Viewer"}[i/2%3], RequestID: fmt.Sprint("s", i)}
		_, err := s.client.SignalWithStartWorkflow(ctx, id, workflows.AccessSignal, ev, start, workflows.UserAccessWorkflow, workflows.UserAccessInput{User: user})
		require.NoError(t, err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		answers[2], err = s.updateAccess(ctx, workflows.TaskQueue, user, workflows.UserAccessInput{}, workflows.AccessEvent{Op: "grant", Role: "ExplorerCanPublish", RequestID: "last"})
		assert.NoError(t, err)
	}()
	time.Sleep(5 * time.Second) // the outage; the first grant keeps retrying meanwhile
	down()
	wg.Wait()
	assert.Equal(t, workflows.OutcomeApplied, answers[0].Outcome, "in flight when the others arrived: applied")
	assert.Equal(t, workflows.OutcomeUnchanged, answers[1].Outcome, "applied in turn (a revoke of Creator waits between it and the next Explorer grant): Creator is higher")
	assert.Equal(t, workflows.OutcomeApplied, answers[2].Outcome, answers[2].Message)
	// The last events revoke every role they granted, then last: ExplorerCanPublish.
	assert.Equal(t, "ExplorerCanPublish", s.fake.Role(faketableau.SandboxSite, user))
	updates := 0
	for _, c := range s.fake.RoleChanges() {
		if c.User == user {
			updates++
		}
	}
	// Grants and revokes of three roles interleaved are applied in turn (a grant of one may raise
	// what a revoke of another then lowers): each reaches Tableau once, after the outage.
	t.Logf("103 events during an outage: %d role changes in Tableau", updates)
	assert.LessOrEqual(t, updates, 103)
	res := s.forget(t, id)
	assert.Equal(t, 103, res.Events, "every event recorded")
}

// Megabytes of rejected input, then continue-as-new: the entity keeps
// running with its memory (Temporal would terminate it over 2 MB of input).
func TestAccessEntitySurvivesMegabytesOfRejectedInput(t *testing.T) {
	t.Parallel() // mostly waiting, and asserting no timings: shares the machine
	s := startStack(t)
	ctx := testsuite.ContextWithin(t, 3*time.Minute)
	const user = "ana@example.com"
	id := workflows.UserAccessWorkflowID(workflows.TaskQueue, user)
	in := workflows.UserAccessInput{User: user, MaxEventsPerRun: 5}
	rec, err := s.updateAccess(ctx, workflows.TaskQueue, user, in, workflows.AccessEvent{Op: "grant", Role: "Viewer", RequestID: "keep-me"})
	require.NoError(t, err)
	require.Equal(t, workflows.OutcomeApplied, rec.Outcome)
	firstRun := describeRun(t, s, id)

	manyFields := map[string]string{"op": "grant", "role": "Viewer"}
	for i := range 12_000 {
		manyFields[fmt.Sprintf("field%05d", i)] = "x"
	}
	for range 3 {
		require.NoError(t, s.client.SignalWorkflow(ctx, id, "", workflows.AccessSignal, manyFields))
	}
	angle := strings.Repeat("<", 256)
	for range 200 {
		require.NoError(t, s.client.SignalWorkflow(ctx, id, "", workflows.AccessSignal,
			workflows.AccessEvent{Op: workflows.Op(angle), Role: angle, RequestID: angle, At: angle, Duration: angle, ExpiresAt: angle}))
	}
	for i := range 40 {
		ev := workflows.AccessEvent{Op: []workflows.Op{workflows.OpGrant, workflows.OpRevoke}[i%2], Role: "Explorer", RequestID: fmt.Sprint("e", i)}
		_, err := s.updateAccess(ctx, workflows.TaskQueue, user, in, ev)
		require.NoError(t, err)
	}
	d, err := s.client.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	assert.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_RUNNING, d.WorkflowExecutionInfo.Status)
	assert.NotEqual(t, firstRun, d.WorkflowExecutionInfo.Execution.RunId, "it continued as new")
	rec, err = s.updateAccess(ctx, workflows.TaskQueue, user, in, workflows.AccessEvent{Op: "grant", Role: "Viewer", RequestID: "keep-me"})
	require.NoError(t, err)
	assert.Equal(t, workflows.OutcomeDuplicate, rec.Outcome, "the memory came through")
	assert.Equal(t, "Viewer", s.fake.Role(faketableau.SandboxSite, user))
	res := s.forget(t, id)
	rejected := 0
	for _, r := range res.History {
		if r.Outcome == workflows.OutcomeRejected {
			rejected++
		}
	}
	assert.Positive(t, rejected)
}

// An entity with the per-user ID of version 1 that reaches the current code
// hands its memory to the per-site entity and ends: one memory per user and site.
func TestLegacyEntityHandsItsMemoryOver(t *testing.T) {
	s := startStack(t)
	ctx := testsuite.ContextWithin(t, 2*time.Minute)
	const user = "chloe@example.com" // Explorer in Tableau
	legacy := "tableau-access/" + user
	perSite := workflows.UserAccessWorkflowID(workflows.TaskQueue, user)
	soon := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	memory := &workflows.UserAccessState{Seq: 2, Grants: []workflows.Grant{{Role: "Explorer"}}}
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: legacy, TaskQueue: workflows.TaskQueue}, workflows.UserAccessWorkflow,
		workflows.UserAccessInput{User: user, State: memory})
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, nil), "the legacy entity ends")
	var grants []workflows.Grant
	require.Eventually(t, func() bool {
		v, err := s.client.QueryWorkflow(ctx, perSite, "", workflows.GrantsQuery)
		return err == nil && v.Get(&grants) == nil && len(grants) == 1
	}, 30*time.Second, 200*time.Millisecond)
	assert.Equal(t, workflows.Grant{Role: "Explorer"}, grants[0], "the per-site entity holds the legacy grant")

	// A second legacy entity for the same user finds the per-site one running: it sends its grants.
	// One whose time ran out on the way is sent as a grant that runs out at once, so the per-site
	// entity revokes it as an expiry: its own permanent Explorer grant stays (main sent an explicit
	// revoke, which took that grant, and a baseline of that role, away).
	past := time.Now().Add(-time.Minute)
	run, err = s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: legacy, TaskQueue: workflows.TaskQueue}, workflows.UserAccessWorkflow,
		workflows.UserAccessInput{User: user, State: &workflows.UserAccessState{Grants: []workflows.Grant{
			{Role: "Creator", ExpiresAt: &soon}, {Role: "Explorer", ExpiresAt: &past}, {Role: "Viewer", ExpiresAt: &past}}}})
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, nil))
	require.Eventually(t, func() bool { return s.fake.Role(faketableau.SandboxSite, user) == "Creator" }, 30*time.Second, 200*time.Millisecond)
	var history []workflows.AccessRecord
	require.Eventually(t, func() bool {
		v, err := s.client.QueryWorkflow(ctx, perSite, "", workflows.HistoryQuery)
		return err == nil && v.Get(&history) == nil && slices.ContainsFunc(history, func(r workflows.AccessRecord) bool {
			return r.Outcome == workflows.OutcomeExpired && r.Role == "Viewer"
		})
	}, 30*time.Second, 200*time.Millisecond, "the expired Viewer grant ran out as an expiry")
	v, err := s.client.QueryWorkflow(ctx, perSite, "", workflows.GrantsQuery)
	require.NoError(t, err)
	require.NoError(t, v.Get(&grants))
	require.Len(t, grants, 2, "%+v", grants)
	assert.Equal(t, workflows.Grant{Role: "Explorer"}, grants[0], "the permanent grant is never shortened")
	assert.Equal(t, tableau.RoleCreator, grants[1].Role)
	require.NotNil(t, grants[1].ExpiresAt)
	assert.True(t, soon.Equal(*grants[1].ExpiresAt), "the time-bound grant keeps its expiry")
}

// 40 updates at once for one user, more than the 10 Temporal lets one
// workflow have in flight: events that wait coalesce (one per role), so
// every one is answered (SendAccess, as starter, would send a busy one again).
func TestAccessUpdateBurstIsAnswered(t *testing.T) {
	s := startStack(t)
	s.fake.SetLatency(300 * time.Millisecond)
	ctx := testsuite.ContextWithin(t, 2*time.Minute)
	const user = "ben@example.com"
	roles := []string{"Explorer", "Creator", "Viewer", "ExplorerCanPublish", "SiteAdministratorExplorer"}
	var wg sync.WaitGroup
	recs := make([]workflows.AccessRecord, 40)
	errs := make([]error, len(recs))
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i], errs[i] = s.updateAccess(ctx, workflows.TaskQueue, user, workflows.UserAccessInput{},
				workflows.AccessEvent{Op: "grant", Role: roles[i%len(roles)], RequestID: fmt.Sprint("burst-", i)})
		}()
	}
	wg.Wait()
	outcomes := map[workflows.Outcome]int{}
	for i, err := range errs {
		require.NoError(t, err, "update %d", i)
		outcomes[recs[i].Outcome]++
	}
	t.Logf("40 updates at once: %v", outcomes)
	assert.Equal(t, 40, outcomes[workflows.OutcomeApplied]+outcomes[workflows.OutcomeUnchanged]+outcomes[workflows.OutcomeSuperseded])
	assert.Equal(t, "Creator", s.fake.Role(faketableau.SandboxSite, user), "the highest grant held")
}
