package topology

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// TestProductionTopology: provisions, entity grants and revokes (a
// time-bound grant that expires while the server is down, signals on either
// side of the server's SIGKILL), the worker holding a hanging call
// SIGKILLed, an approved reconcile, and at the end the namespace deleted
// under the workers. Nothing is lost or applied twice, and the workers exit
// non-zero rather than idle.
func TestProductionTopology(t *testing.T) {
	pgURL := postgresURL(t)
	ctx := testsuite.ContextWithin(t, 10*time.Minute)
	started := time.Now()
	workerBin, serverBin := binaries(t)
	setup := exec.CommandContext(ctx, serverBin, "setup-schema", "-url", pgURL)
	setup.Stderr = os.Stderr
	require.NoError(t, setup.Run(), "temporal-sql-tool setup of tabflow_temporal and tabflow_temporal_visibility")

	srv := &cluster{t: t, bin: serverBin, pgURL: pgURL, port: freePortRange(t, 10)}
	srv.start(ctx)
	// docker-compose.yml's healthcheck: the frontend's HTTP API answers.
	resp, err := http.Get("http://" + srv.httpAddress() + "/api/v1/cluster-info")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the compose healthcheck's request")
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

	// The worker whose role update hangs in Tableau, SIGKILLed.
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
	holder := ws.holderOf(ctx, c, "provision/user00011")
	ws.kill(holder)
	ws.start()
	require.NoError(t, run.Get(ctx, nil))
	retried := lastActivityStart(t, ctx, c, "provision/user00011")
	assert.Greater(t, retried.GetAttempt(), int32(1), "another attempt finished the call")
	assert.Equal(t, enums.TIMEOUT_TYPE_HEARTBEAT, retried.GetLastFailure().GetTimeoutFailureInfo().GetTimeoutType(),
		"the attempt before ended because its worker died (not on Tableau's own timeout): %v", retried.GetLastFailure())
	assert.NotEqual(t, strconv.Itoa(holder.Process.Pid), strings.Split(retried.GetIdentity(), "@")[0])
	t.Logf("worker %d killed mid-call; attempt %d finished on %s", holder.Process.Pid, retried.GetAttempt(), retried.GetIdentity())

	// Signals for ben, then the server SIGKILLed: accepted events are durable.
	signal := func(id string, op workflows.Op, role string) {
		_, err := c.SignalWithStartWorkflow(ctx, workflows.UserAccessWorkflowID(workflows.TaskQueue, "ben@example.com"), workflows.AccessSignal,
			workflows.AccessEvent{Op: op, Role: role, RequestID: id},
			client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue}, workflows.UserAccessWorkflow, workflows.UserAccessInput{User: "ben@example.com", MaxEventsPerRun: 3})
		require.NoError(t, err)
	}
	signal("b1", workflows.OpGrant, "Viewer")
	signal("b2", workflows.OpGrant, "Explorer")
	signal("b3", workflows.OpGrant, "Creator")
	srv.kill()
	downAt := time.Now()
	time.Sleep(time.Until(expiresAt) + 2*time.Second) // the Creator grant expires while no server runs
	srv.start(ctx)
	t.Logf("server SIGKILLed, restarted %s later, after ana's grant expired", time.Since(downAt).Round(time.Second))
	require.Eventually(t, func() bool { return fake.Role(faketableau.SandboxSite, "ana@example.com") == "Explorer" }, 2*time.Minute, 500*time.Millisecond,
		"the time-bound grant ends after the restart")
	// After the restart: one more signal, and a revoke by update.
	signal("b4", workflows.OpGrant, "Viewer")
	revoked := send("ben@example.com", workflows.AccessEvent{Op: "revoke", Role: "Creator", RequestID: "b5"})
	require.Equal(t, workflows.OutcomeApplied, revoked.Outcome, revoked.Message)
	assert.Equal(t, "Explorer", fake.Role(faketableau.SandboxSite, "ben@example.com"), "Creator revoked: the highest grant left")
	ben := history(t, ctx, c, "ben@example.com")
	var ids []string
	for _, rec := range ben {
		ids = append(ids, rec.RequestID)
		assert.Contains(t, []workflows.Outcome{workflows.OutcomeApplied, workflows.OutcomeUnchanged}, rec.Outcome, "%s: %s", rec.RequestID, rec.Message)
	}
	assert.Equal(t, []string{"b1", "b2", "b3", "b4", "b5"}, ids, "every signal across the server's SIGKILL recorded, in order")
	assert.Equal(t, []string{"Explorer", "Creator", "Explorer"}, changesOf(fake, "ben@example.com"), "and applied in order, once each (ben was a Viewer already)")

	// A hand edit, undone by an approved reconcile through ana's entity.
	fake.SetRole(faketableau.SandboxSite, "ana@example.com", "Viewer")
	rrun, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "reconcile/topology", TaskQueue: workflows.TaskQueue}, workflows.ReconcileWorkflow,
		workflows.ReconcileInput{Mode: workflows.ReconcileApprove})
	require.NoError(t, err)
	var plan workflows.ReconcilePlan
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(ctx, "reconcile/topology", "", workflows.PlanQuery)
		return err == nil && v.Get(&plan) == nil && plan.PlanID != ""
	}, time.Minute, 200*time.Millisecond, "the plan is published")
	assert.Equal(t, []workflows.DriftChange{{User: "ana@example.com", Expected: "Explorer", Actual: "Viewer"}}, plan.Changes)
	approval, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: "reconcile/topology", UpdateName: workflows.ApproveUpdate,
		Args: []any{workflows.ApproveInput{PlanID: plan.PlanID}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, approval.Get(ctx, nil))
	require.NoError(t, rrun.Get(ctx, &plan))
	assert.Equal(t, 1, plan.Applied, plan.Message)
	assert.Equal(t, "Explorer", fake.Role(faketableau.SandboxSite, "ana@example.com"), "restored by the approved plan")

	// Nothing lost, nothing twice.
	for _, user := range []string{"ana@example.com", "ben@example.com"} {
		history := history(t, ctx, c, user)
		for _, rec := range history {
			assert.NotEqual(t, workflows.OutcomeFailed, rec.Outcome, "%s: %s", user, rec.Message)
		}
		t.Logf("%s: %d records, Tableau saw %v", user, len(history), changesOf(fake, user))
	}
	// (The hand edit to Viewer between the last two is not a REST call.)
	assert.Equal(t, []string{"Explorer", "Creator", "Explorer", "Explorer"}, changesOf(fake, "ana@example.com"), "grant, elevation, expiry, reconcile: once each")
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
	namespaceDeletedUnderTheWorkers(t, ctx, c, ws)
	t.Logf("topology proof: %s", time.Since(started).Round(time.Second))
}

// namespaceDeletedUnderTheWorkers: a worker whose namespace is gone stops
// polling for good (Temporal calls it fatal); it must exit non-zero, so its
// supervisor restarts it and someone notices, rather than stay up idle.
// It takes about 3 minutes: the server's namespace cache notices the
// deletion within a minute, and the SDK retries a poll's NamespaceNotFound
// for 2 minutes before it calls it fatal (its retryLongPollGracePeriod).
func namespaceDeletedUnderTheWorkers(t *testing.T, ctx context.Context, c client.Client, ws *workers) {
	exited := make(chan *exec.Cmd, len(ws.running))
	for _, cmd := range ws.running {
		go func() {
			cmd.Wait()
			exited <- cmd
		}()
	}
	deleted := time.Now()
	_, err := c.OperatorService().DeleteNamespace(ctx, &operatorservice.DeleteNamespaceRequest{Namespace: namespace})
	require.NoError(t, err)
	for range ws.running {
		select {
		case cmd := <-exited:
			assert.NotZero(t, cmd.ProcessState.ExitCode(), "worker %d exits non-zero", cmd.Process.Pid)
			t.Logf("worker %d exited with %d, %s after the namespace was deleted", cmd.Process.Pid, cmd.ProcessState.ExitCode(), time.Since(deleted).Round(100*time.Millisecond))
		case <-time.After(3 * time.Minute):
			t.Fatal("a worker still runs 3 minutes after its namespace was deleted")
		}
	}
	ws.running = nil
}

// history is a user's entity's records.
func history(t *testing.T, ctx context.Context, c client.Client, user string) []workflows.AccessRecord {
	var recs []workflows.AccessRecord
	v, err := c.QueryWorkflow(ctx, workflows.UserAccessWorkflowID(workflows.TaskQueue, user), "", workflows.HistoryQuery)
	require.NoError(t, err)
	require.NoError(t, v.Get(&recs))
	return recs
}

// lastActivityStart is the last activity attempt a workflow started.
func lastActivityStart(t *testing.T, ctx context.Context, c client.Client, id string) *historypb.ActivityTaskStartedEventAttributes {
	var last *historypb.ActivityTaskStartedEventAttributes
	iter := c.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			last = a
		}
	}
	require.NotNil(t, last)
	return last
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
