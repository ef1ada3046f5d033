package workflows_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktestsuite "go.temporal.io/sdk/testsuite"

	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// The scenarios of "Revokes that stick", each as a Tableau admin would see it.

func (e *entityTest) role() string { return e.fake.Role(faketableau.SandboxSite, e.user) }

// 1. A revoke that failed is not made stale by a later grant of another role.
func TestUserAccessFailedRevokeRedeliveredAfterAnotherRolesGrantApplies(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var redelivered workflows.AccessRecord
	e.signalEach(access("grant", "Creator", "g1", "2026-11-23T09:00:00Z"))
	e.at(time.Minute, func() {
		e.fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, Status: 403, Body: `{"error":{"code":"403000","summary":"Forbidden","detail":"no"}}`})
		e.signal(access("revoke", "Creator", "r1", "2026-11-23T10:00:00Z"))
	})
	e.at(2*time.Minute, func() { e.signal(access("grant", "Viewer", "g2", "2026-11-23T10:01:00Z")) })
	e.at(3*time.Minute, func() { e.update(access("revoke", "Creator", "r1", "2026-11-23T10:00:00Z"), &redelivered, nil) })
	e.at(time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, []string{"g1:applied", "r1:failed", "g2:unchanged", "r1:applied"}, outcomes(res.History))
	assert.Equal(t, "Viewer", redelivered.RoleAfter, "the revoke lands, falling back to the Viewer grant")
	assert.Equal(t, "Viewer", e.role())
}

// 2. forget is refused while a time-bound grant is held, naming it.
func TestUserAccessForgetRefusedWhileATimeBoundGrantIsHeld(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	ev := access("grant", "Creator", "t1", "")
	ev.Duration = "1h"
	e.signalEach(ev)
	var refused error
	e.at(10*time.Minute, func() {
		e.env.UpdateWorkflow(workflows.ForgetUpdate, "early", &sdktestsuite.TestUpdateCallback{
			OnAccept: func() { t.Error("forget accepted while Creator is held for an hour") }, OnReject: func(err error) { refused = err }, OnComplete: func(any, error) {},
		})
	})
	e.at(2*time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	require.Error(t, refused)
	assert.Contains(t, refused.Error(), "forget refused: the time-bound grant Creator until")
	assert.Equal(t, workflows.OutcomeExpired, res.History[len(res.History)-1].Outcome, "the expiry ran before the entity ended")
	assert.Equal(t, "Unlicensed", e.role())
}

// 3. Megabytes of rejected input leave the continue-as-new input far below
// Temporal's 2 MB limit.
func TestUserAccessStateStaysBoundedWhateverItIsSent(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	unknown := map[string]string{"op": "grant", "role": "Viewer"}
	for i := range 12_000 {
		unknown[fmt.Sprintf("field%05d", i)] = "x"
	}
	angle := strings.Repeat("<", 256)
	e.at(0, func() {
		for range 250 {
			e.signal(workflows.AccessEvent{Op: workflows.Op(angle), Role: angle, RequestID: angle, At: angle, Duration: angle, ExpiresAt: angle})
		}
		for range 3 {
			e.env.SignalWorkflow(workflows.AccessSignal, unknown) // as JSON: every field reaches the entity
		}
		e.signal(access("grant", "Viewer", "ok", ""))
	})
	e.env.ExecuteWorkflow(workflows.UserAccessWorkflow, workflows.UserAccessInput{User: e.user, MaxEventsPerRun: 1})
	next := continuedInput(t, e.env)
	size, err := json.Marshal(next)
	require.NoError(t, err)
	t.Logf("continue-as-new input after ~1 MB of rejected input: %d bytes", len(size))
	assert.Less(t, len(size), 512<<10)
	assert.Len(t, next.State.History, 200)
	assert.True(t, strings.Contains(string(size), "and 11,997 more"), "a record of the signal with 12,000 unknown fields names three and counts the rest")
}

// 4. A backlog ends in the state its events, applied one at a time, ask
// for, and nothing is refused for load. A run of grants (or of revokes)
// coalesces; grants and revokes of two roles interleaved do not, since a
// grant of one may raise what a revoke of the other then lowers.
func TestUserAccessBacklogEndsAsTheEventsOneAtATimeAsk(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.fake.Inject(faketableau.Fault{Status: 503, Body: "down", Times: 8}) // Tableau down for minutes (a day-long outage: testsuite/e2e)
	var firstUpdate, lastUpdate workflows.AccessRecord
	e.at(0, func() { e.update(access("grant", "Creator", "u-first", ""), &firstUpdate, nil) })
	e.at(time.Millisecond, func() { // a run of grants: they fold
		for i := range 100 {
			e.signal(access("grant", []string{"Creator", "Explorer"}[i%2], fmt.Sprint("g", i), ""))
		}
	})
	for batch := range 10 { // grants and revokes interleaved: applied in turn
		e.at(time.Duration(batch+2)*time.Millisecond, func() {
			for i := batch * 100; i < (batch+1)*100; i++ {
				op := []workflows.Op{workflows.OpGrant, workflows.OpRevoke}[i%2]
				e.signal(access(op, []string{"Creator", "Explorer"}[i/2%2], fmt.Sprint("s", i), ""))
			}
		})
	}
	e.at(20*time.Millisecond, func() { e.update(access("grant", "Viewer", "u-last", ""), &lastUpdate, nil) })
	e.at(48*time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeApplied, firstUpdate.Outcome, "the first event was in flight: applied; %s", firstUpdate.Message)
	assert.Equal(t, workflows.OutcomeApplied, lastUpdate.Outcome)
	// The last events per role: s997 revoke Creator, s999 revoke Explorer, u-last grant Viewer.
	assert.Equal(t, "Viewer", e.role(), "Creator and Explorer revoked last, Viewer granted")
	assert.Equal(t, 1102, res.Events)
	t.Logf("1,102 events: %d role updates in Tableau", e.fake.Count("users:update"))
	assert.Less(t, e.fake.Count("users:update"), 1102-90, "the run of grants coalesced")
}

// 5. One ticket ID for a grant and, later, its revoke.
func TestUserAccessOneTicketGrantsThenRevokes(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.signalEach(access("grant", "Explorer", "T-17", ""), access("revoke", "Explorer", "T-17", ""), access("revoke", "Explorer", "T-17", ""))
	e.at(time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, []string{"T-17:applied", "T-17:applied", "T-17:duplicate"}, outcomes(res.History))
	assert.Equal(t, "Unlicensed", e.role())
}

// 6. A time-bound grant never shortens a permanent one.
func TestUserAccessTimeBoundGrantDoesNotShortenAPermanentOne(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	temp := access("grant", "Explorer", "e2", "")
	temp.Duration = "2h"
	var rec workflows.AccessRecord
	e.signalEach(access("grant", "Explorer", "e1", ""))
	e.at(time.Minute, func() { e.update(temp, &rec, nil) })
	var grants []workflows.Grant
	e.at(3*time.Hour, func() { e.query(workflows.GrantsQuery, &grants) })
	e.at(4*time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Contains(t, rec.Message, "the Explorer grant is held until revoked")
	assert.Empty(t, rec.ExpiresAt)
	assert.Equal(t, "Explorer", e.role(), "still Explorer after the 2 h")
	require.Len(t, grants, 1)
	assert.Nil(t, grants[0].ExpiresAt)
	assert.NotContains(t, outcomes(res.History), ":expired")
}

// 7. A revoke never raises the role Tableau shows; the higher grant is drift.
func TestUserAccessRevokeNeverRaises(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var rec workflows.AccessRecord
	e.signalEach(access("grant", "Explorer", "a", ""), access("grant", "Creator", "b", ""))
	e.at(2*time.Minute, func() { e.fake.SetRole(faketableau.SandboxSite, e.user, "Explorer") }) // an admin's hand edit
	e.at(3*time.Minute, func() { e.update(access("revoke", "Explorer", "c", ""), &rec, nil) })
	e.at(time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, "Unlicensed", rec.RoleAfter, "not Creator")
	assert.Equal(t, "Unlicensed", e.role())
	require.Len(t, rec.Warnings, 1)
	assert.Contains(t, rec.Warnings[0], "the Creator grant is still held, but Tableau showed Explorer")
}

// 9. Access held outside tabflow (the baseline) is kept.
func TestUserAccessKeepsAccessGivenInTableau(t *testing.T) {
	e := newEntityTest(t, "dev@example.com") // Creator in Tableau
	viewer := access("grant", "Viewer", "v", "")
	viewer.Duration = "1h"
	var rec workflows.AccessRecord
	var grants []workflows.Grant
	e.at(0, func() { e.update(viewer, &rec, nil) })
	e.at(time.Minute, func() { e.query(workflows.GrantsQuery, &grants) })
	e.at(2*time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeUnchanged, rec.Outcome)
	assert.Equal(t, "Creator", rec.RoleAfter)
	assert.Contains(t, rec.Message, "Viewer grant held; the user keeps the higher Creator")
	require.Len(t, grants, 2)
	assert.Equal(t, workflows.Grant{Role: "Creator", Source: workflows.SourceTableau}, grants[1])
	assert.Equal(t, workflows.OutcomeExpired, res.History[len(res.History)-1].Outcome)
	assert.Equal(t, "Creator", e.role(), "the Viewer grant's expiry leaves the Creator given in Tableau")
	assert.Zero(t, e.fake.Count("users:update"))
}

func TestUserAccessTemporaryElevationExpiresBackToTheBaseline(t *testing.T) {
	e := newEntityTest(t, "ben@example.com") // Viewer in Tableau
	up := access("grant", "Explorer", "up", "")
	up.Duration = "1h"
	e.signalEach(up)
	var role string
	e.at(time.Hour+time.Second, func() { role = e.role() }) // right after expiry, before anything else
	e.at(2*time.Hour, func() { e.signal(access("revoke", "Viewer", "off", "")) })
	e.at(3*time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, "Viewer", role, "back to the Viewer given in Tableau, not Unlicensed")
	assert.Equal(t, []string{"up:applied", ":expired", "off:applied"}, outcomes(res.History))
	assert.Equal(t, "Unlicensed", e.role(), "an explicit revoke of the baseline's role removes it")
	assert.Empty(t, res.Grants)
}

// slowPUTs makes the next n role updates fail with a 503, so the event
// being applied takes 2^n-1 s of workflow time while others arrive.
func (e *entityTest) slowPUTs(n int) {
	e.fake.Inject(faketableau.Fault{Method: "PUT", Times: n, Status: 503, Body: "busy"})
}

// 10. A duration counts from when the grant arrived; a grant whose time ran
// out while it waited is answered expired, never rejected after acceptance.
func TestUserAccessGrantThatRanOutWhileWaitingIsExpired(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.slowPUTs(3) // the first grant takes 7 s
	short := access("grant", "Creator", "short", "")
	short.Duration = "3s"
	var rec workflows.AccessRecord
	e.at(0, func() { e.signal(access("grant", "Viewer", "first", "")) })
	e.at(time.Second, func() { e.update(short, &rec, nil) })
	e.at(time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeExpired, rec.Outcome, rec.Message)
	assert.Contains(t, rec.Message, "the Creator grant ran out at")
	assert.Equal(t, "Viewer", e.role(), "never Creator")
}

// 10. While a run continues as new it takes no new update (the sender
// retries and reaches the next run), so a steady stream cannot hold it open.
func TestUserAccessRefusesUpdatesWhileContinuingAsNew(t *testing.T) {
	e := newEntityTest(t, "ben@example.com") // Viewer
	e.slowPUTs(2)
	var refused error
	e.at(0, func() {
		e.update(access("grant", "Viewer", "u1", ""), nil, nil)  // unchanged: the run's one event
		e.update(access("grant", "Creator", "u2", ""), nil, nil) // accepted: applied before the run ends
	})
	e.at(1500*time.Millisecond, func() { e.update(access("grant", "Explorer", "u3", ""), nil, &refused) })
	e.env.ExecuteWorkflow(workflows.UserAccessWorkflow, workflows.UserAccessInput{User: e.user, MaxEventsPerRun: 1})
	next := continuedInput(t, e.env)
	require.Error(t, refused)
	assert.Contains(t, refused.Error(), workflows.EntityContinuingAsNew)
	assert.Equal(t, []string{"u1:unchanged", "u2:applied"}, outcomes(next.State.History))
	assert.Empty(t, next.State.Pending)
}

// 10. After forget, an update is refused and a signal is recorded as
// rejected: neither is applied nor lost without a word.
func TestUserAccessEventsAfterForget(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.slowPUTs(2)
	var refused error
	e.at(0, func() { e.signal(access("grant", "Viewer", "s1", "")) })
	e.at(time.Second, e.forget)
	e.at(2*time.Second, func() {
		e.update(access("grant", "Creator", "late-update", ""), nil, &refused)
		e.signal(access("grant", "Creator", "late-signal", ""))
	})
	res := e.run(workflows.UserAccessInput{})
	require.Error(t, refused)
	assert.Contains(t, refused.Error(), "this entity is ending (forget)")
	assert.Equal(t, []string{"s1:applied", "late-signal:rejected"}, outcomes(res.History))
	assert.Equal(t, "Viewer", e.role())
}

// 10. Records list in arrival order even when an update handler records a
// rejected signal while an earlier event's child runs, so paging is exact.
func TestUserAccessHistoryStaysInArrivalOrder(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.slowPUTs(2)
	var page []workflows.AccessRecord
	e.at(0, func() { e.signal(access("grant", "Viewer", "s1", "")) })
	e.at(time.Second, func() { e.signal(access("grant", "Boss", "bad", "")) })
	e.at(1500*time.Millisecond, func() { e.update(access("grant", "Creator", "u2", ""), nil, nil) })
	e.at(time.Minute, func() { e.query(workflows.HistoryQuery, &page, workflows.HistoryPage{Before: 3}) })
	e.at(time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, []string{"s1:applied", "bad:rejected", "u2:applied"}, outcomes(res.History))
	assert.Equal(t, []string{"s1:applied", "bad:rejected"}, outcomes(page))
}

// A grant made moot by its revoke while both waited is remembered: its
// redelivery later does not grant again.
func TestUserAccessSupersededGrantRedeliveredIsADuplicate(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.slowPUTs(2)
	var again workflows.AccessRecord
	e.at(0, func() { e.signal(access("grant", "Viewer", "first", "")) })
	e.at(time.Second, func() { e.signal(access("grant", "Creator", "T-9", ""), access("grant", "Creator", "T-11", "")) })
	e.at(time.Minute, func() { e.update(access("grant", "Creator", "T-9", ""), &again, nil) })
	e.at(time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, []string{"first:applied", "T-9:superseded", "T-11:applied", "T-9:duplicate"}, outcomes(res.History))
	assert.Equal(t, workflows.OutcomeDuplicate, again.Outcome)
	assert.Equal(t, "Creator", e.role())
}

// Issue 24, defect 1: a grant and its revoke waiting together are both
// applied (main superseded the grant, so the revoke found nothing to do
// and a redelivered grant was a duplicate that had never run).
func TestUserAccessGrantAndRevokeWaitingTogetherAreBothApplied(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.slowPUTs(2)
	e.at(0, func() { e.signal(access("grant", "Viewer", "first", "")) })
	e.at(time.Second, func() { e.signal(access("grant", "Creator", "T-9", ""), access("revoke", "Creator", "T-10", "")) })
	e.at(time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, []string{"first:applied", "T-9:applied", "T-10:applied"}, outcomes(res.History))
	assert.Equal(t, "Viewer", e.role())
}
