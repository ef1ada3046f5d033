package topology

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// TestProductionTopology: provisions, entity grants and revokes (a
// time-bound grant that expires while the server is down), a reconcile
// plan, a worker SIGKILLed mid-call, and the Temporal server SIGKILLed and
// restarted mid-run. Nothing is lost or applied twice.
func TestProductionTopology(t *testing.T) {
	pgURL := postgresURL(t)
	ctx := testsuite.ContextWithin(t, 10*time.Minute)
	started := time.Now()
	workerBin, serverBin := binaries(t)
	setup := exec.CommandContext(ctx, serverBin, "setup-schema", "-url", pgURL)
	setup.Stderr = os.Stderr
	require.NoError(t, setup.Run(), "temporal-sql-tool setup of tabflow_temporal and tabflow_temporal_visibility")

	srv := &cluster{t: t, bin: serverBin, pgURL: pgURL, port: freePortRange(t, 9)}
	srv.start(ctx)
	registerNamespace(t, ctx, srv.address())
	c, err := client.Dial(client.Options{HostPort: srv.address(), Namespace: namespace})
	require.NoError(t, err)
	defer c.Close()

	fake := testsuite.StartTableau(t)
	fake.SetLatency(20 * time.Millisecond)
	fake.AddUsers(faketableau.SandboxSite, 12, "Unlicensed")
	ws := &workers{t: t, bin: workerBin, env: workerEnv(t, srv.address(), fake)}
	ws.start()
	ws.start()
	t.Logf("cluster on PostgreSQL and two workers up after %s", time.Since(started).Round(time.Millisecond))

	// Provisions, spread over both workers and one PAT.
	var runs []client.WorkflowRun
	for i := 1; i <= 10; i++ {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("provision/user%05d", i), TaskQueue: workflows.TaskQueue},
			workflows.ProvisionWorkflow, workflows.ProvisionInput{User: fmt.Sprintf("user%05d@example.com", i), Role: "Explorer"})
		require.NoError(t, err)
		runs = append(runs, run)
	}
	for _, run := range runs {
		require.NoError(t, run.Get(ctx, nil))
	}

	// The entity: a grant, and a time-bound elevation that will expire while the server is down.
	send := func(user string, ev workflows.AccessEvent) workflows.AccessRecord {
		rec, err := workflows.SendAccess(ctx, c, workflows.TaskQueue, workflows.UserAccessInput{User: user, MaxEventsPerRun: 2}, ev)
		require.NoError(t, err)
		return rec
	}
	assert.Equal(t, workflows.OutcomeApplied, send("ana@example.com", workflows.AccessEvent{Op: "grant", Role: "Explorer", RequestID: "t1"}).Outcome)
	elevated := send("ana@example.com", workflows.AccessEvent{Op: "grant", Role: "Creator", RequestID: "t2", Duration: "40s"})
	require.Equal(t, workflows.OutcomeApplied, elevated.Outcome, elevated.Message)
	expiresAt, err := time.Parse(time.RFC3339, elevated.ExpiresAt)
	require.NoError(t, err)

	// A worker SIGKILLed while its role update hangs in Tableau.
	inFake := make(chan faketableau.Request, 1)
	fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, Latency: time.Minute, Notify: inFake})
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "provision/user00011", TaskQueue: workflows.TaskQueue},
		workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "user00011@example.com", Role: "Creator"})
	require.NoError(t, err)
	select {
	case <-inFake:
	case <-ctx.Done():
		t.Fatal("the update never reached Tableau")
	}
	killed := ws.running[0]
	require.NoError(t, killAll(ws.running[:1]))
	ws.start()
	require.NoError(t, run.Get(ctx, nil))
	t.Logf("worker %d killed mid-call; the provision finished on another", killed.Process.Pid)

	// Events for ben, then the server SIGKILLed: accepted events are durable.
	for i, role := range []string{"Viewer", "Explorer", "Creator"} {
		_, err := c.SignalWithStartWorkflow(ctx, workflows.UserAccessWorkflowID(workflows.TaskQueue, "ben@example.com"), workflows.AccessSignal,
			workflows.AccessEvent{Op: "grant", Role: role, RequestID: fmt.Sprint("b", i)},
			client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue}, workflows.UserAccessWorkflow, workflows.UserAccessInput{User: "ben@example.com", MaxEventsPerRun: 3})
		require.NoError(t, err)
	}
	srv.kill()
	downAt := time.Now()
	time.Sleep(time.Until(expiresAt) + 2*time.Second) // the Creator grant expires while no server runs
	srv.start(ctx)
	t.Logf("server SIGKILLed, restarted %s later, after ana's grant expired", time.Since(downAt).Round(time.Second))
	require.Eventually(t, func() bool { return fake.Role(faketableau.SandboxSite, "ana@example.com") == "Explorer" }, 2*time.Minute, 500*time.Millisecond,
		"the time-bound grant ends after the restart")
	require.Eventually(t, func() bool { return fake.Role(faketableau.SandboxSite, "ben@example.com") == "Creator" }, time.Minute, 500*time.Millisecond)

	// A reconcile plan sees a hand edit, and changes nothing.
	fake.SetRole(faketableau.SandboxSite, "ana@example.com", "Viewer")
	rrun, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "reconcile/topology", TaskQueue: workflows.TaskQueue}, workflows.ReconcileWorkflow, workflows.ReconcileInput{})
	require.NoError(t, err)
	var plan workflows.ReconcilePlan
	require.NoError(t, rrun.Get(ctx, &plan))
	assert.Equal(t, []workflows.DriftChange{{User: "ana@example.com", Expected: "Explorer", Actual: "Viewer"}}, plan.Changes)
	fake.SetRole(faketableau.SandboxSite, "ana@example.com", "Explorer")

	// Nothing lost, nothing twice.
	for _, user := range []string{"ana@example.com", "ben@example.com"} {
		var history []workflows.AccessRecord
		v, err := c.QueryWorkflow(ctx, workflows.UserAccessWorkflowID(workflows.TaskQueue, user), "", workflows.HistoryQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&history))
		for _, rec := range history {
			assert.NotEqual(t, workflows.OutcomeFailed, rec.Outcome, "%s: %s", user, rec.Message)
		}
		var changes []string
		for _, ch := range fake.RoleChanges() {
			if ch.User == user {
				changes = append(changes, ch.To)
			}
		}
		for i := 1; i < len(changes); i++ {
			assert.NotEqual(t, changes[i-1], changes[i], "%s: the same change twice: %v", user, changes)
		}
		t.Logf("%s: %d records, Tableau saw %v", user, len(history), changes)
	}
	assert.Equal(t, []string{"Explorer", "Creator", "Explorer"}, changesOf(fake, "ana@example.com"), "grant, elevation, expiry: once each")
	assert.Equal(t, 1, len(changesOf(fake, "user00011@example.com")), "the killed worker's update landed once")
	// The SIGKILLed worker never signed out: its session stayed live in
	// Tableau until the next sign-in, after its lease expired, replaced it.
	// Otherwise two workers with one PAT never overlapped, and no call was cut off.
	assert.LessOrEqual(t, fake.Collisions(), 1, "only the killed worker's abandoned session was replaced")
	assert.Zero(t, fake.CutOffCalls(), "no call was cut off by another worker's sign-in")

	// The databases keep tabflow's executions.
	for _, typ := range []string{workflows.ProvisionWorkflow, workflows.UserAccessWorkflow, workflows.PATLeaseV2Workflow, workflows.ReconcileWorkflow} {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowType = '%s'", typ)})
		require.NoError(t, err)
		assert.Positive(t, resp.Count, typ)
	}
	recordHistories(t, ctx, c)
	t.Logf("topology proof: %s", time.Since(started).Round(time.Second))
}

func changesOf(fake *testsuite.Tableau, user string) []string {
	var out []string
	for _, ch := range fake.RoleChanges() {
		if ch.User == user {
			out = append(out, ch.To)
		}
	}
	return out
}

func killAll(cmds []*exec.Cmd) error {
	for _, cmd := range cmds {
		if err := cmd.Process.Kill(); err != nil {
			return err
		}
		cmd.Wait()
	}
	return nil
}

// recordHistories writes, with TABFLOW_RECORD_HISTORIES=1, the histories
// recorded on this topology to workflows/testdata, where they replay on
// every run: the entity's current run (grants, expiry, continued as new) and
// the PAT lease (hand-overs between the two workers).
func recordHistories(t *testing.T, ctx context.Context, c client.Client) {
	if os.Getenv("TABFLOW_RECORD_HISTORIES") == "" {
		return
	}
	leases, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType = '" + workflows.PATLeaseV2Workflow + "'"})
	require.NoError(t, err)
	require.NotEmpty(t, leases.Executions)
	for file, id := range map[string]string{
		"topology-useraccess.json":  workflows.UserAccessWorkflowID(workflows.TaskQueue, "ana@example.com"),
		"topology-patlease-v2.json": leases.Executions[0].Execution.WorkflowId,
	} {
		iter := c.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		hist := &historypb.History{}
		for iter.HasNext() {
			ev, err := iter.Next()
			require.NoError(t, err)
			hist.Events = append(hist.Events, ev)
		}
		data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("..", "..", "workflows", "testdata", file), data, 0o644))
	}
}
