package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// previousRelease is the last unversioned release: its workers know
// neither keepHigher nor the entity's newer memory.
const previousRelease = "9fb2f57"

// A rolling upgrade from the previous release, as docs/operations.md says
// to run it: two old replicas serve entities mid-stream (grants by update
// and by signal, continue-as-new, a time-bound grant, one call hanging in
// Tableau while its worker holds the PAT's lease); two new replicas start
// and the first makes its release current; the old replicas are stopped
// one by one while events keep arriving. Nothing is lost, failed or
// forgotten, and every entity ends with the memory the new rules need.
func TestRollingUpgradeFromThePreviousRelease(t *testing.T) {
	t.Parallel() // mostly waiting, and asserting no timings: shares the machine
	oldWorker, err := testsuite.BuildRelease(t.TempDir(), previousRelease, "./worker")
	require.NoError(t, err)
	s := startStackWithoutWorker(t)
	ctx := testsuite.ContextWithin(t, 5*time.Minute)
	const (
		ann, bob, cal = "ann@example.com", "bob@example.com", "cal@example.com"
		dan, eve      = "dan@example.com", "eve@example.com"
	)
	// A crowd of new entities starts while both releases poll: each is a
	// chance for new code's work to land on an old replica.
	crowd := make([]string, 12)
	for i := range crowd {
		crowd[i] = fmt.Sprintf("crowd%02d@example.com", i+1)
	}
	// Hand-edited users, restored by approved reconciles during the roll
	// (the entity's reconcile op, new since the previous release).
	hand := make([]string, 6)
	for i := range hand {
		hand[i] = fmt.Sprintf("hand%02d@example.com", i+1)
	}
	users := slices.Concat([]string{ann, bob, cal, dan, eve}, crowd, hand)
	for _, u := range users {
		s.fake.AddUser(faketableau.SandboxSite, faketableau.User{Name: u, Email: u, SiteRole: "Unlicensed"})
	}
	u := upgradeScript{t: t, s: s, ctx: ctx, sent: map[string][]string{}, events: map[string]workflows.AccessEvent{}}
	start := func(bin string) *exec.Cmd { return s.startRelease(t, bin) }
	stop := func(cmd *exec.Cmd) { stopGracefully(t, cmd) }

	olds := []*exec.Cmd{start(oldWorker), start(oldWorker)}
	s.waitForPollers(t, 2)
	u.update(ann, "a1", workflows.OpGrant, "Creator", "")
	u.signal(bob, "b1", workflows.OpGrant, "Viewer")
	u.signal(bob, "b2", workflows.OpGrant, "Explorer")
	u.signal(bob, "b3", workflows.OpRevoke, "Viewer")         // bob's entity continues as new on the old release
	u.update(cal, "c1", workflows.OpGrant, "Explorer", "25s") // runs out during or after the roll
	for _, user := range hand {
		u.update(user, "h1", workflows.OpGrant, "Creator", "")
	}
	// dan's grant hangs inside Tableau: an old replica holds the PAT's
	// session, and its lease, while the new release takes over.
	hung := make(chan faketableau.Request, 1)
	s.fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, Latency: 10 * time.Second, Notify: hung})
	var inFlight sync.WaitGroup
	inFlight.Go(func() { u.update(dan, "d1", workflows.OpGrant, "Viewer", "") })
	select {
	case <-hung:
	case <-ctx.Done():
		t.Fatal("dan's grant never reached Tableau")
	}

	start(bin.worker)
	start(bin.worker)
	s.waitUntilCurrent(t, ctx)
	u.signal(ann, "a2", workflows.OpGrant, "Explorer")
	u.update(ann, "a3", workflows.OpRevoke, "Creator", "")
	u.update(bob, "b4", workflows.OpGrant, "Creator", "")
	u.update(eve, "e1", workflows.OpGrant, "Viewer", "")
	for _, user := range crowd { // three at once: some wait, carried across continue-as-new
		u.signal(user, "n1", workflows.OpGrant, "Viewer")
		u.signal(user, "n2", workflows.OpGrant, "Explorer")
		u.signal(user, "n3", workflows.OpRevoke, "Viewer")
	}
	for i := 0; i < len(hand); i += 2 {
		u.reconcileHandEdits(hand[i : i+2])
	}
	stop(olds[0])
	u.signal(bob, "b5", workflows.OpRevoke, "Explorer")
	u.update(dan, "d2", workflows.OpGrant, "Explorer", "")
	stop(olds[1])
	inFlight.Wait()

	require.Eventually(t, func() bool { return s.fake.Role(faketableau.SandboxSite, cal) == "Unlicensed" }, time.Minute, 200*time.Millisecond,
		"cal's time-bound Explorer ran out across the roll")

	// After the roll, every request handled before or during it is
	// remembered: sent again, it is a duplicate, and changes nothing.
	u.mu.Lock()
	before := maps.Clone(u.sent)
	u.mu.Unlock()
	for user, ids := range before {
		for _, id := range ids {
			rec := u.resend(user, id)
			assert.Equal(t, workflows.OutcomeDuplicate, rec.Outcome, "%s %s sent again after the roll: %s", user, id, rec.Message)
		}
	}
	// Two more events each make every entity continue as new under the
	// new rules, whose memory checkMemory reads.
	for _, user := range users {
		u.update(user, "p1", workflows.OpGrant, "Viewer", "")
		u.update(user, "p2", workflows.OpGrant, "Viewer", "")
	}

	want := map[string]string{ann: "Explorer", bob: "Creator", cal: "Viewer", dan: "Explorer", eve: "Viewer"}
	for _, user := range crowd {
		want[user] = "Explorer"
	}
	for _, user := range hand {
		want[user] = "Creator"
	}
	for user, role := range want {
		assert.Equal(t, role, s.fake.Role(faketableau.SandboxSite, user), user)
		u.checkHistory(user)
		u.checkMemory(user, role)
	}
	assert.Contains(t, u.outcomes(cal), ":expired", "cal's grant expired under the new release")
}

// upgradeScript sends access events as upstream does and keeps what it sent.
type upgradeScript struct {
	t      *testing.T
	s      *stack
	ctx    context.Context
	mu     sync.Mutex
	sent   map[string][]string              // user → request IDs, in order
	events map[string]workflows.AccessEvent // by user/request ID
}

func (u *upgradeScript) input(user string) workflows.UserAccessInput {
	return workflows.UserAccessInput{User: user, MaxEventsPerRun: 2}
}

// event is what upstream sends: every event carries its time.
func (u *upgradeScript) event(user, id string, op workflows.Op, role, duration string) workflows.AccessEvent {
	ev := workflows.AccessEvent{Op: op, Role: role, RequestID: id, Duration: duration, At: time.Now().UTC().Format(time.RFC3339Nano)}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sent[user] = append(u.sent[user], id)
	u.events[user+"/"+id] = ev
	return ev
}

// update sends an event by Update-With-Start; its record must not fail.
func (u *upgradeScript) update(user, id string, op workflows.Op, role, duration string) {
	rec := u.send(user, u.event(user, id, op, role, duration))
	assert.NotEqual(u.t, workflows.OutcomeFailed, rec.Outcome, "%s %s: %s", user, id, rec.Message)
}

// resend sends an event again, as upstream does when unsure.
func (u *upgradeScript) resend(user, id string) workflows.AccessRecord {
	u.mu.Lock()
	u.sent[user] = append(u.sent[user], id)
	ev := u.events[user+"/"+id]
	u.mu.Unlock()
	return u.send(user, ev)
}

func (u *upgradeScript) send(user string, ev workflows.AccessEvent) workflows.AccessRecord {
	rec, err := workflows.SendAccess(u.ctx, u.s.client, workflows.TaskQueue, u.input(user), ev)
	assert.NoError(u.t, err, "%s %s", user, ev.RequestID)
	return rec
}

// signal sends an event by signal-with-start, fire and forget.
func (u *upgradeScript) signal(user, id string, op workflows.Op, role string) {
	_, err := u.s.client.SignalWithStartWorkflow(u.ctx, workflows.UserAccessWorkflowID(workflows.TaskQueue, user), workflows.AccessSignal,
		u.event(user, id, op, role, ""), workflows.EntityStartOptions(workflows.TaskQueue, user), workflows.UserAccessWorkflow, u.input(user))
	require.NoError(u.t, err)
}

// startRelease starts a worker binary of any release with this stack's
// settings; its log is shown if the test fails.
func (s *stack) startRelease(t *testing.T, bin string) *exec.Cmd {
	cmd := s.workerCmd(t, context.Background())
	cmd.Path, cmd.Args[0] = bin, bin
	var log testsuite.SyncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s:\n%s", bin, log.String())
		}
	})
	return cmd
}

// stopGracefully is a replica's SIGTERM: it must exit 0.
func stopGracefully(t *testing.T, cmd *exec.Cmd) {
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "a replica stops cleanly")
}

// waitUntilCurrent waits for a new replica to make its release current.
func (s *stack) waitUntilCurrent(t *testing.T, ctx context.Context) {
	h := s.client.WorkerDeploymentClient().GetHandle(workflows.DeploymentName)
	require.Eventually(t, func() bool {
		d, err := h.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
		cur := d.Info.RoutingConfig.CurrentVersion
		return err == nil && cur != nil && cur.BuildID == workflows.BuildID()
	}, time.Minute, 200*time.Millisecond, "a new replica makes %s current", workflows.BuildID())
}

// reconcileHandEdits demotes users by hand in Tableau and runs an approved
// reconcile, as an admin does: each must be restored through its entity.
func (u *upgradeScript) reconcileHandEdits(users []string) {
	for _, user := range users {
		u.s.fake.SetRole(faketableau.SandboxSite, user, "Viewer")
	}
	r := u.s.starter(u.t, "reconcile", "--apply", "--max-changes", "100", "--json")
	require.Equal(u.t, 0, r.code, r.stderr)
	var plan workflows.ReconcilePlan
	require.NoError(u.t, json.Unmarshal([]byte(r.stdout), &plan))
	assert.Empty(u.t, plan.Failed, plan.Message)
	for _, user := range users {
		assert.Equal(u.t, "Creator", u.s.fake.Role(faketableau.SandboxSite, user), "%s restored: %s", user, plan.Message)
	}
}

// history is the entity's records, oldest first.
func (u *upgradeScript) history(user string) []workflows.AccessRecord {
	resp, err := u.s.client.QueryWorkflow(u.ctx, workflows.UserAccessWorkflowID(workflows.TaskQueue, user), "", workflows.HistoryQuery, workflows.HistoryPage{})
	require.NoError(u.t, err)
	var recs []workflows.AccessRecord
	require.NoError(u.t, resp.Get(&recs))
	return recs
}

func (u *upgradeScript) outcomes(user string) []string {
	var out []string
	for _, r := range u.history(user) {
		out = append(out, r.RequestID+":"+string(r.Outcome))
	}
	return out
}

// checkHistory: every event sent has its record, in the order sent (among
// the expiries and reconciles the entity records too), and none failed.
func (u *upgradeScript) checkHistory(user string) {
	var got []string
	for _, r := range u.history(user) {
		if (r.Op == workflows.OpGrant || r.Op == workflows.OpRevoke) && r.Outcome != workflows.OutcomeExpired {
			got = append(got, r.RequestID)
		}
		assert.NotEqual(u.t, workflows.OutcomeFailed, r.Outcome, "%s %s: %s", user, r.RequestID, r.Message)
	}
	assert.Equal(u.t, u.sent[user], got, "%s: every event recorded once, in order", user)
}

// checkMemory reads the state the entity's current run was started with
// (by continue-as-new, under the new rules): Tableau's role as it showed
// it, the baseline decided, and each role's latest event time.
func (u *upgradeScript) checkMemory(user, role string) {
	id := workflows.UserAccessWorkflowID(workflows.TaskQueue, user)
	events := u.s.client.GetWorkflowHistory(u.ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	require.True(u.t, events.HasNext())
	first, err := events.Next()
	require.NoError(u.t, err)
	var in workflows.UserAccessInput
	require.NoError(u.t, workflows.DataConverter.FromPayloads(first.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in))
	require.NotNil(u.t, in.State, "%s: the current run was continued as new", user)
	st := in.State
	assert.True(u.t, st.BaselineKnown, "%s: baseline decided", user)
	assert.Equal(u.t, role, string(st.Role), "%s: the role Tableau showed", user)
	assert.NotEmpty(u.t, st.LastAt, "%s: each role's latest event time", user)
}

// versionOneRelease is the last release whose entities run version 1 of
// the entity (workflows/useraccess_v2.go): their runs hand their memory to
// the current rules at a version gate, live, once upgraded.
const versionOneRelease = "3ecb7b6"

// An entity begun on that release, its worker replaced by the current one
// mid-run: the run crosses the hand-off gate live and continues as new
// into the current rules with its grants, the requests it handled and each
// role's last event time; the handing run's history (recorded here, on a
// real server) replays; TABFLOW_RECORD_HISTORIES=1 freezes it in
// workflows/testdata, where every test run replays it.
func TestEntityOfAnOlderReleaseHandsOverLive(t *testing.T) {
	t.Parallel() // mostly waiting, and asserting no timings: shares the machine
	oldWorker, err := testsuite.BuildRelease(t.TempDir(), versionOneRelease, "./worker")
	require.NoError(t, err)
	s := startStackWithoutWorker(t)
	ctx := testsuite.ContextWithin(t, 3*time.Minute)
	const user = "ben@example.com" // Viewer in the sandbox
	id := testsuite.RecordedHistories["useraccess-handoff.json"]
	start := client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}
	var firstRun string // the run that hands over
	update := func(ev workflows.AccessEvent) workflows.AccessRecord {
		h, err := s.client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: s.client.NewWithStartWorkflowOperation(start, workflows.UserAccessWorkflow, workflows.UserAccessInput{User: user}),
			UpdateOptions:          client.UpdateWorkflowOptions{UpdateName: workflows.AccessUpdate, Args: []any{ev}, WaitForStage: client.WorkflowUpdateStageCompleted},
		})
		require.NoError(t, err)
		if firstRun == "" {
			firstRun = h.RunID()
		}
		var rec workflows.AccessRecord
		require.NoError(t, h.Get(ctx, &rec))
		return rec
	}

	old := s.startRelease(t, oldWorker)
	assert.Equal(t, workflows.OutcomeApplied, update(workflows.AccessEvent{Op: "grant", Role: "Explorer", RequestID: "r1", At: "2026-11-23T10:00:00Z"}).Outcome)
	_, err = s.client.SignalWithStartWorkflow(ctx, id, workflows.AccessSignal, workflows.AccessEvent{Op: "grant", Role: "Creator", RequestID: "r2", At: "2026-11-23T10:01:00Z"},
		start, workflows.UserAccessWorkflow, workflows.UserAccessInput{User: user})
	require.NoError(t, err)
	assert.Equal(t, "Explorer", update(workflows.AccessEvent{Op: "revoke", Role: "Creator", RequestID: "r3", At: "2026-11-23T10:02:00Z"}).RoleAfter)
	stopGracefully(t, old)

	s.startRelease(t, bin.worker)
	s.waitUntilCurrent(t, ctx)
	assert.Equal(t, workflows.OutcomeDuplicate, update(workflows.AccessEvent{Op: "grant", Role: "Explorer", RequestID: "r1", At: "2026-11-23T10:00:00Z"}).Outcome,
		"a request handled before the upgrade is remembered after it")
	assert.Equal(t, workflows.OutcomeStale, update(workflows.AccessEvent{Op: "grant", Role: "Creator", RequestID: "r4", At: "2026-11-23T10:01:30Z"}).Outcome,
		"older than the revoke of Creator applied before the upgrade")
	rec := update(workflows.AccessEvent{Op: "grant", Role: "Creator", RequestID: "r5", At: "2026-11-23T10:03:00Z"})
	assert.Equal(t, "Creator", rec.RoleAfter, rec.Message)
	res := s.forget(t, id)
	assert.Equal(t, []string{"Explorer", "Creator"}, grantRoles(res.Grants), "the grant held before the upgrade, and the one after (version 1 kept no baseline)")

	hist := fetchHistory(t, s.client, id, firstRun)
	assert.True(t, crossesGate(t, hist, "access-rules-v3/"), "the run handed its memory over at the version gate, live")
	data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "useraccess-handoff.json")
	if os.Getenv("TABFLOW_RECORD_HISTORIES") != "" {
		path = filepath.Join("..", "..", "workflows", "testdata", "useraccess-handoff.json")
	}
	require.NoError(t, os.WriteFile(path, data, 0o644))
	assert.NoError(t, testsuite.ReplayHistoryFile(path, id))
}

// crossesGate says whether hist records a version marker whose change ID
// starts with prefix, at version 1 or more.
func crossesGate(t *testing.T, hist *historypb.History, prefix string) bool {
	for _, ev := range hist.Events {
		m := ev.GetMarkerRecordedEventAttributes()
		if m == nil || m.GetMarkerName() != "Version" {
			continue
		}
		var changeID string
		var version int
		require.NoError(t, workflows.DataConverter.FromPayloads(m.GetDetails()["change-id"], &changeID))
		require.NoError(t, workflows.DataConverter.FromPayloads(m.GetDetails()["version"], &version))
		if strings.HasPrefix(changeID, prefix) && version >= 1 {
			return true
		}
	}
	return false
}
