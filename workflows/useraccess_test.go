package workflows_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdktestsuite "go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// testQueue is the SDK test environment's task queue, so the entity's own
// ID is UserAccessWorkflowID(testQueue, user).
const testQueue = "default-test-taskqueue"

// entityTest drives one access entity in the SDK's test environment, with
// the real activities against a fake Tableau.
type entityTest struct {
	t       *testing.T
	env     *sdktestsuite.TestWorkflowEnvironment
	fake    *testsuite.Tableau
	user    string
	updates int
}

func newEntityTest(t *testing.T, user string) *entityTest {
	env, fake := realEnv(t)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.UserAccessWorkflowID(testQueue, user)})
	return &entityTest{t: t, env: env, fake: fake, user: user}
}

func access(op workflows.Op, role, id, at string) workflows.AccessEvent {
	return workflows.AccessEvent{Op: op, Role: role, RequestID: id, At: at}
}

// at runs fn at d of workflow time.
func (e *entityTest) at(d time.Duration, fn func()) { e.env.RegisterDelayedCallback(fn, d) }

func (e *entityTest) signal(evs ...workflows.AccessEvent) {
	for _, ev := range evs {
		e.env.SignalWorkflow(workflows.AccessSignal, ev)
	}
}

// update sends ev as the access update; got receives the record, or rejected
// the validator's error.
func (e *entityTest) update(ev workflows.AccessEvent, got *workflows.AccessRecord, rejected *error) {
	e.updates++ // update IDs are unique: Temporal answers a repeated one with the first's result
	e.env.UpdateWorkflow(workflows.AccessUpdate, fmt.Sprint("update-", e.updates), &sdktestsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) {
			if rejected == nil {
				e.t.Errorf("update %s rejected: %v", ev.RequestID, err)
				return
			}
			*rejected = err
		},
		OnComplete: func(v any, err error) {
			require.NoError(e.t, err)
			if got != nil {
				*got = v.(workflows.AccessRecord)
			}
		},
	}, ev)
}

func (e *entityTest) forget() {
	e.env.UpdateWorkflow(workflows.ForgetUpdate, "forget", &sdktestsuite.TestUpdateCallback{
		OnAccept: func() {}, OnReject: func(err error) { e.t.Errorf("forget rejected: %v", err) }, OnComplete: func(any, error) {},
	})
}

func (e *entityTest) query(name string, out any, args ...any) {
	v, err := e.env.QueryWorkflow(name, args...)
	require.NoError(e.t, err)
	require.NoError(e.t, v.Get(out))
}

// run starts the entity and returns its final state (after forget).
func (e *entityTest) run(in workflows.UserAccessInput) workflows.UserAccessResult {
	e.t.Helper()
	if in.User == "" {
		in.User = e.user
	}
	e.env.ExecuteWorkflow(workflows.UserAccessWorkflow, in)
	var res workflows.UserAccessResult
	require.NoError(e.t, e.env.GetWorkflowResult(&res))
	return res
}

func outcomes(h []workflows.AccessRecord) []string {
	var out []string
	for _, r := range h {
		out = append(out, r.RequestID+":"+string(r.Outcome))
	}
	return out
}

// signalEach sends one event a minute, so each is applied before the next
// arrives (events for one role that wait together coalesce).
func (e *entityTest) signalEach(evs ...workflows.AccessEvent) {
	for i, ev := range evs {
		e.at(time.Duration(i)*time.Minute, func() { e.signal(ev) })
	}
}

func TestUserAccessAppliesEventsInArrivalOrder(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.signalEach(
		access("grant", "Explorer", "r1", "2026-11-23T10:00:00Z"),
		access("revoke", "Explorer", "r2", "2026-11-23T10:01:00Z"),
		access("grant", "Creator", "r3", "2026-11-23T10:02:00Z"),
		access("grant", "Creator", "r3", "2026-11-23T10:02:00Z"), // duplicate delivery
		access("revoke", "Viewer", "r4", "2026-11-23T10:03:00Z"), // not the current role
		access("grant", "Creator", "r5", "2026-11-23T09:00:00Z"), // older than the last applied Creator event
	)
	e.at(time.Hour, func() {
		e.signal(access("grant", "Boss", "r6", "")) // invalid: rejected when it arrives
		e.forget()
	})
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, []string{"r1:applied", "r2:applied", "r3:applied", "r3:duplicate", "r4:unchanged", "r5:stale", "r6:rejected"}, outcomes(res.History))
	assert.Equal(t, "Creator", e.fake.Role(faketableau.SandboxSite, "ana@example.com"))
	assert.Equal(t, "Unlicensed", res.History[1].RoleAfter)
	assert.Contains(t, res.History[6].Message, `role "Boss" is not a site role tabflow can set`)
	assert.Equal(t, 3, e.fake.Count("users:update"), "only the three applied events changed anything")
}

func TestUserAccessUpdateAnswersWithTheRecord(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var granted, again workflows.AccessRecord
	var invalid error
	e.at(0, func() {
		e.update(access("grant", "Explorer", "u1", ""), &granted, nil)
		e.update(access("grant", "explorer", "u2", ""), nil, &invalid)
		e.update(access("grant", "Explorer", "u1", ""), &again, nil)
	})
	e.at(time.Minute, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeApplied, granted.Outcome)
	assert.Equal(t, "Unlicensed", granted.RoleBefore)
	assert.Equal(t, "Explorer", granted.RoleAfter)
	assert.Equal(t, "ana@example.com: site role Unlicensed → Explorer", granted.Message)
	require.Error(t, invalid, "the validator rejects the update before it is accepted")
	assert.Contains(t, invalid.Error(), `role "explorer" is not a site role: did you mean "Explorer"?`)
	assert.Equal(t, workflows.OutcomeDuplicate, again.Outcome)
	assert.Equal(t, []string{"u1:applied", "u1:duplicate"}, outcomes(res.History), "a rejected update leaves no record")
}

// The entity never finishes on its own, and its memory does not fade: a
// redelivered request a month later is a duplicate, an older event stale.
func TestUserAccessNeverForgets(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var redelivered, older workflows.AccessRecord
	e.at(0, func() {
		e.signal(access("grant", "Explorer", "r1", "2026-11-23T10:00:00Z"), access("revoke", "Explorer", "r2", "2026-11-23T11:00:00Z"))
	})
	e.at(30*24*time.Hour, func() {
		e.update(access("grant", "Explorer", "r1", "2026-11-23T10:00:00Z"), &redelivered, nil)
		e.update(access("grant", "Explorer", "r9", "2026-11-23T10:30:00Z"), &older, nil)
	})
	e.at(31*24*time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeDuplicate, redelivered.Outcome)
	assert.Equal(t, workflows.OutcomeStale, older.Outcome)
	assert.Equal(t, "Unlicensed", e.fake.Role(faketableau.SandboxSite, "ana@example.com"), "the revoke stands")
}

// A revoke of the current role falls back to the highest grant still held.
func TestUserAccessRevokeFallsBackToTheGrantStillHeld(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var toCreator, fallback, last workflows.AccessRecord
	e.signalEach(access("grant", "Viewer", "g1", ""))
	e.at(time.Minute, func() { e.update(access("grant", "Creator", "g2", ""), &toCreator, nil) })
	e.at(2*time.Minute, func() { e.update(access("revoke", "Creator", "g3", ""), &fallback, nil) })
	e.at(3*time.Minute, func() { e.update(access("revoke", "Viewer", "g4", ""), &last, nil) })
	e.at(time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, "Creator", toCreator.RoleAfter)
	assert.Equal(t, workflows.OutcomeApplied, fallback.Outcome)
	assert.Equal(t, "Viewer", fallback.RoleAfter, "not Unlicensed: the Viewer grant is still held")
	assert.Contains(t, fallback.Message, "the user still holds Viewer")
	assert.Equal(t, "Unlicensed", last.RoleAfter, "no grant left")
	assert.Empty(t, res.Grants)
}

// A lower grant does not demote a user holding a higher one.
func TestUserAccessLowerGrantKeepsTheHigherOne(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var low workflows.AccessRecord
	e.at(0, func() {
		e.signal(access("grant", "Creator", "h1", ""))
		e.update(access("grant", "Viewer", "h2", ""), &low, nil)
	})
	e.at(time.Minute, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeUnchanged, low.Outcome)
	assert.Equal(t, "Creator", low.RoleAfter)
	assert.Len(t, res.Grants, 2)
}

func TestUserAccessTimeBoundGrants(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var elevated workflows.AccessRecord
	var grants []workflows.Grant
	e.at(0, func() {
		e.signal(access("grant", "Viewer", "t1", ""))
		ev := access("grant", "Creator", "t2", "")
		ev.Duration = "8h"
		e.update(ev, &elevated, nil)
		short := access("grant", "Explorer", "t3", "")
		short.Duration = "1h"
		e.signal(short, access("revoke", "Explorer", "t4", "")) // a revoke cancels the expiry
	})
	e.at(time.Hour, func() { e.query(workflows.GrantsQuery, &grants) })
	e.at(9*time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, "Creator", elevated.RoleAfter)
	assert.NotEmpty(t, elevated.ExpiresAt)
	require.Len(t, grants, 2, "Viewer for good, Creator until its expiry: %+v", grants)
	assert.Nil(t, grants[0].ExpiresAt)
	require.NotNil(t, grants[1].ExpiresAt)
	assert.Equal(t, elevated.ExpiresAt, grants[1].ExpiresAt.Format(time.RFC3339Nano), "one time, one format: the grants query says the expiry as the answer does")
	last := res.History[len(res.History)-1]
	assert.Equal(t, workflows.OutcomeExpired, last.Outcome, "%+v", res.History)
	assert.Equal(t, "Creator", last.Role)
	assert.Equal(t, "Viewer", last.RoleAfter, "the elevation returns to the grant still held")
	assert.Equal(t, "Viewer", e.fake.Role(faketableau.SandboxSite, "ana@example.com"))
	assert.Equal(t, 1, strings.Count(strings.Join(outcomes(res.History), " "), string(workflows.OutcomeExpired)), "the revoked Explorer grant never expires")
}

func TestUserAccessPermanentRegrantCancelsTheExpiry(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	ev := access("grant", "Explorer", "x1", "")
	ev.Duration = "1h"
	e.signalEach(ev, access("grant", "Explorer", "x2", "")) // for good now
	e.at(2*time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, []string{"x1:applied", "x2:unchanged"}, outcomes(res.History), "nothing expired")
	assert.Equal(t, "Explorer", e.fake.Role(faketableau.SandboxSite, "ana@example.com"))
}

func TestUserAccessRejectsBadTimesAndOversizedFields(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	errs := make([]error, 4)
	var ok workflows.AccessRecord
	e.at(0, func() {
		both := access("grant", "Viewer", "b1", "")
		both.Duration, both.ExpiresAt = "1h", "2030-01-01T00:00:00Z"
		past := access("grant", "Viewer", "b2", "")
		past.ExpiresAt = "2001-01-01T00:00:00Z"
		onRevoke := access("revoke", "Viewer", "b3", "")
		onRevoke.Duration = "1h"
		huge := access("grant", "Viewer", strings.Repeat("x", 1<<20), "")
		for i, ev := range []workflows.AccessEvent{both, past, onRevoke, huge} {
			e.update(ev, nil, &errs[i])
		}
		e.signal(huge)
		e.update(access("grant", "Viewer", "fine", ""), &ok, nil)
	})
	e.at(time.Minute, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.ErrorContains(t, errs[0], "duration and expiresAt: give one, not both")
	assert.ErrorContains(t, errs[1], "expiresAt 2001-01-01T00:00:00Z is in the past")
	assert.ErrorContains(t, errs[2], "duration and expiresAt are for grants only")
	assert.ErrorContains(t, errs[3], "requestId is 1048576 bytes long; at most 256")
	assert.Less(t, len(errs[3].Error()), 1000, "the message does not echo the field")
	require.Len(t, res.History, 2)
	assert.Equal(t, workflows.OutcomeRejected, res.History[0].Outcome, "the oversized signal is recorded as rejected")
	assert.LessOrEqual(t, len(res.History[0].RequestID), 300, "and its requestId is not stored whole")
	assert.Equal(t, workflows.OutcomeApplied, ok.Outcome, "the entity keeps working")
}

// An entity whose ID is not its task queue's and user's refuses every event,
// so a grant can never land on another site's entity.
func TestUserAccessRefusesEventsForAnotherSite(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.UserAccessWorkflowID("site-b", "ana@example.com")})
	var rejected error
	e.at(0, func() {
		e.update(access("grant", "Creator", "s1", ""), nil, &rejected)
		e.signal(access("grant", "Creator", "s2", ""))
	})
	e.at(time.Minute, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.ErrorContains(t, rejected, `does not match its task queue "default-test-taskqueue"`)
	assert.Equal(t, []string{"s2:rejected"}, outcomes(res.History))
	assert.Zero(t, e.fake.Count("users:update"))
}

// continuedInput is the input a run that continued as new handed on.
func continuedInput(t *testing.T, env *sdktestsuite.TestWorkflowEnvironment) workflows.UserAccessInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "%v", env.GetWorkflowError())
	var next workflows.UserAccessInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	return next
}

// Continue-as-new carries the whole memory and the events not yet applied.
func TestUserAccessContinueAsNewCarriesStateAndPendingEvents(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.at(0, func() {
		for i, role := range []string{"Viewer", "Explorer", "Creator", "ExplorerCanPublish", "SiteAdministratorExplorer"} {
			ev := access("grant", role, string(rune('a'+i)), "")
			if role == "Creator" {
				ev.Duration = "1h"
			}
			e.signal(ev)
		}
	})
	e.env.ExecuteWorkflow(workflows.UserAccessWorkflow, workflows.UserAccessInput{User: "ana@example.com", MaxEventsPerRun: 2})
	next := continuedInput(t, e.env)
	assert.Equal(t, []string{"a:applied", "b:applied"}, outcomes(next.State.History))
	require.Len(t, next.State.Pending, 3, "the three signals behind the limit travel to the next run")
	assert.Equal(t, "c", next.State.Pending[0].Event.RequestID)
	assert.Equal(t, 2, next.MaxEventsPerRun)

	// The next run applies them first, in order, and keeps the dedupe memory.
	e2 := newEntityTest(t, "ana@example.com")
	e2.fake = e.fake
	e2.env = envWith(t, e.fake, e.fake.PATConfig())
	e2.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.UserAccessWorkflowID(testQueue, "ana@example.com")})
	e2.at(time.Minute, func() { e2.signal(access("grant", "Creator", "c", "")) })
	e2.at(2*time.Hour, e2.forget)
	next.MaxEventsPerRun = 0
	res := e2.run(next)
	assert.Equal(t, []string{"a:applied", "b:applied", "c:applied", "d:unchanged", "e:unchanged", "c:duplicate", ":expired"}, outcomes(res.History))
	assert.Equal(t, 7, res.Events)
	assert.Equal(t, "SiteAdministratorExplorer", e.fake.Role(faketableau.SandboxSite, "ana@example.com"),
		"the Creator grant expired back to the highest grant below it")
}

// A signal that arrives while the last event of a run is being applied (its
// child workflow waits out a Tableau error) is carried to the next run.
func TestUserAccessContinueAsNewCarriesASignalThatArrivedDuringAChild(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.fake.Inject(faketableau.Fault{PathContains: "/users", Times: 1, Status: 503, Body: "busy"})
	e.at(0, func() { e.signal(access("grant", "Viewer", "first", "")) })
	e.at(500*time.Millisecond, func() { e.signal(access("grant", "Creator", "during", "")) })
	e.env.ExecuteWorkflow(workflows.UserAccessWorkflow, workflows.UserAccessInput{User: "ana@example.com", MaxEventsPerRun: 1})
	next := continuedInput(t, e.env)
	assert.Equal(t, []string{"first:applied"}, outcomes(next.State.History))
	require.Len(t, next.State.Pending, 1, "the signal that arrived during the child")
	assert.Equal(t, "during", next.State.Pending[0].Event.RequestID)
}

func TestUserAccessHistoryQueryPages(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var newest, older []workflows.AccessRecord
	e.at(0, func() {
		for i := range 5 {
			e.signal(access("grant", "Viewer", string(rune('a'+i)), ""))
		}
	})
	e.at(time.Minute, func() {
		e.query(workflows.HistoryQuery, &newest, workflows.HistoryPage{Limit: 2})
		e.query(workflows.HistoryQuery, &older, workflows.HistoryPage{Before: 4, Limit: 2})
		e.forget()
	})
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, []int{4, 5}, []int{newest[0].Seq, newest[1].Seq})
	assert.Equal(t, []int{2, 3}, []int{older[0].Seq, older[1].Seq})
}
