package workflows_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdktestsuite "go.temporal.io/sdk/testsuite"

	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// Issue 24's defects, each as the schedule that showed it on main: events
// that wait together, a forget or a hand edit while a child runs, a clock
// that runs ahead. The randomised schedule test explores the rest.

func timed(ev workflows.AccessEvent, d string) workflows.AccessEvent {
	ev.Duration = d
	return ev
}

// 1a. A permanent and a 20 s grant of one role waiting together: the user
// keeps Creator (main let the time-bound one supersede the permanent one,
// so the user lost Creator 20 s later).
func TestUserAccessTimeBoundGrantWaitingWithAPermanentOneKeepsIt(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.slowPUTs(2)
	var redelivered workflows.AccessRecord
	e.at(0, func() { e.signal(access("grant", "Viewer", "first", "")) })
	e.at(time.Second, func() {
		e.signal(access("grant", "Creator", "perm", ""), timed(access("grant", "Creator", "short", ""), "20s"))
	})
	e.at(10*time.Minute, func() { e.update(access("grant", "Creator", "perm", ""), &redelivered, nil) })
	e.at(time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, []string{"first:applied", "perm:superseded", "short:applied", "perm:duplicate"}, outcomes(res.History))
	assert.Equal(t, "Creator", e.role(), "the permanent grant is held: nothing expired")
	assert.Contains(t, res.History[1].Message, "the later end of the two")
	require.Len(t, res.Grants, 2)
	assert.Nil(t, res.Grants[1].ExpiresAt, "Creator is held until revoked")
}

// 1b. With a permanent Creator held, a revoke and then a 15 s grant waiting
// together: applied in turn, the user holds Creator for 15 s only (main
// superseded the revoke: Creator for ever).
func TestUserAccessRevokeThenTimeBoundGrantWaitingTogetherEndsTheAccess(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.signalEach(access("grant", "Creator", "perm", ""))
	e.at(time.Minute, func() {
		e.slowPUTs(2)
		e.signal(access("grant", "Viewer", "slow", ""), access("revoke", "Creator", "rev", ""), timed(access("grant", "Creator", "short", ""), "15s"))
	})
	e.at(time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	assert.Equal(t, []string{"perm:applied", "slow:unchanged", "rev:applied", "short:applied", ":expired"}, outcomes(res.History))
	assert.Equal(t, "Viewer", e.role(), "Creator ended 15 s after the grant; the Viewer grant remains")
}

// 2. forget while a time-bound grant's child runs is refused, naming it
// (main accepted it: the entity ended and Tableau kept the role for ever).
func TestUserAccessForgetRefusedWhileATimeBoundGrantIsBeingApplied(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.slowPUTs(3)
	var refused error
	e.at(0, func() { e.signal(timed(access("grant", "Creator", "t1", ""), "1h")) })
	e.at(time.Second, func() {
		e.env.UpdateWorkflow(workflows.ForgetUpdate, "during", &sdktestsuite.TestUpdateCallback{
			OnAccept: func() { t.Error("forget accepted while the Creator grant is being applied") }, OnReject: func(err error) { refused = err }, OnComplete: func(any, error) {},
		})
	})
	e.at(2*time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	require.Error(t, refused)
	assert.Contains(t, refused.Error(), "forget refused: the time-bound grant Creator until")
	assert.Equal(t, workflows.OutcomeExpired, res.History[len(res.History)-1].Outcome)
	assert.Equal(t, "Unlicensed", e.role())
}

// 2. A forget carried over continue-as-new (a version-2 run's had no
// validator) is checked again: with a time-bound grant held, the entity
// does not end, and says so.
func TestUserAccessCarriedForgetIsCheckedAgain(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.fake.SetRole(faketableau.SandboxSite, e.user, "Creator")
	until := time.Now().Add(30 * time.Minute)
	e.at(2*time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{State: &workflows.UserAccessState{Forget: true, BaselineKnown: true,
		Grants: []workflows.Grant{{Role: "Creator", ExpiresAt: &until}}}})
	require.GreaterOrEqual(t, len(res.History), 2)
	assert.Equal(t, workflows.OpForget, res.History[0].Op)
	assert.Equal(t, workflows.OutcomeRejected, res.History[0].Outcome)
	assert.Contains(t, res.History[0].Message, "forget refused: the time-bound grant Creator until")
	assert.Equal(t, workflows.OutcomeExpired, res.History[1].Outcome, "the entity lived on to revoke it")
	assert.Equal(t, "Unlicensed", e.role())
}

// 3. A revoke of Explorer whose role update fails and is retried while an
// admin makes the user Creator by hand writes nothing: the retry sees
// Creator, the decision is taken again, and the record says what Tableau
// showed (main wrote the fallback over the hand edit).
func TestUserAccessRevokeRetryAfterAHandEditWritesNothing(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var rec workflows.AccessRecord
	e.signalEach(access("grant", "Explorer", "g", ""))
	e.at(time.Minute, func() {
		e.fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, Status: 503, Body: "busy",
			Meanwhile: func() { e.fake.SetRole(faketableau.SandboxSite, e.user, "Creator") }})
		e.update(access("revoke", "Explorer", "r", ""), &rec, nil)
	})
	e.at(time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeUnchanged, rec.Outcome, rec.Message)
	assert.Equal(t, "Creator", rec.RoleBefore, "the role Tableau really showed")
	assert.Contains(t, rec.Message, "has site role Creator, not the revoked Explorer")
	assert.Contains(t, rec.Message, "decided again on the role Tableau showed")
	assert.Equal(t, "Creator", e.role())
}

// 3. A grant (keepHigher) whose update is retried after a hand promotion
// does not lower it.
func TestUserAccessGrantRetryAfterAHandPromotionKeepsIt(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var rec workflows.AccessRecord
	e.at(0, func() {
		e.fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, Status: 503, Body: "busy",
			Meanwhile: func() { e.fake.SetRole(faketableau.SandboxSite, e.user, "SiteAdministratorCreator") }})
		e.update(access("grant", "Explorer", "g", ""), &rec, nil)
	})
	e.at(time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeUnchanged, rec.Outcome, rec.Message)
	assert.Equal(t, "SiteAdministratorCreator", rec.RoleAfter)
	assert.Equal(t, "SiteAdministratorCreator", e.role())
}

// 6. An event stamped an hour ahead is refused (update) or rejected
// (signal), naming the skew; the real revoke stamped now is applied (main
// applied the future one and made the real revoke stale).
func TestUserAccessRefusesEventsFromTheFuture(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var refused error
	future := func(d time.Duration) string { return e.env.Now().Add(d).UTC().Format(time.RFC3339) }
	e.at(0, func() {
		e.signal(access("grant", "Creator", "g", ""), access("grant", "Creator", "ahead", future(time.Hour)))
		e.update(access("grant", "Creator", "ahead-u", future(time.Hour)), nil, &refused)
		e.signal(access("grant", "Viewer", "ok", future(4*time.Minute))) // within 5 minutes: a clock a little ahead
	})
	e.at(time.Minute, func() { e.signal(access("revoke", "Creator", "real", e.env.Now().UTC().Format(time.RFC3339))) })
	e.at(time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})
	require.Error(t, refused)
	assert.Contains(t, refused.Error(), "after the event arrived")
	assert.Contains(t, refused.Error(), "more than 5m0s ahead")
	assert.Equal(t, []string{"g:applied", "ahead:rejected", "ok:unchanged", "real:applied"}, outcomes(res.History))
	assert.Contains(t, res.History[1].Message, "the sender's clock is wrong")
	assert.Equal(t, "Viewer", e.role())
}

// 7. An entity whose ID names another site applies nothing, including the
// events a continue-as-new carried (main applied those, on this site, for
// this user).
func TestUserAccessMisroutedEntityAppliesNothingCarried(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.UserAccessWorkflowID("site-b", "ana@example.com")})
	e.at(time.Minute, e.forget)
	res := e.run(workflows.UserAccessInput{State: &workflows.UserAccessState{Seq: 1,
		Pending: []workflows.PendingEvent{{Event: access("grant", "Creator", "carried", ""), ReceivedAt: time.Now(), Seq: 1}}}})
	assert.Equal(t, []string{"carried:rejected"}, outcomes(res.History))
	assert.Contains(t, res.History[0].Message, `does not match its task queue "default-test-taskqueue"`)
	assert.Zero(t, e.fake.Count("users:update"))
}

// 8. The worst a sender and a server can do to the state: 256-byte request
// IDs that JSON-encode six times over, a role name and group names of
// kilobytes from Tableau, warnings on every record, ten thousand requests
// remembered, and a full queue carried over continue-as-new. The input
// stays far below Temporal's 2 MB payload limit (docs/entity.md states it).
func TestUserAccessWorstCaseStateStaysBounded(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	huge := strings.Repeat("R", 20_000) // (a "<" would be escaped in JSON, and not found by the last assertion)
	for i := range 5 {
		e.fake.AddGroup(faketableau.SandboxSite, faketableau.Group{Name: fmt.Sprint(i, huge), DomainName: "corp", SiteRole: "Creator", GrantLicenseMode: "onLogin"}, e.user)
	}
	id := func(i int) string { return fmt.Sprintf("%04d%s", i, strings.Repeat("<", 252)) }
	roles := []string{"Viewer", "Explorer", "ExplorerCanPublish", "SiteAdministratorExplorer", "Creator"}
	applied := make([]string, 10_000)
	for i := range applied {
		applied[i] = fmt.Sprintf("key-%022d", i)
	}
	for i := range 220 { // revokes of the role Tableau shows: each lowers it, with group warnings
		e.at(time.Duration(i)*time.Minute, func() {
			e.fake.SetRole(faketableau.SandboxSite, e.user, "Creator")
			e.signal(access("revoke", "Creator", id(i), ""))
		})
	}
	e.at(5*time.Hour, func() {
		e.fake.SetRole(faketableau.SandboxSite, e.user, huge) // what Tableau answers: a role name of 20 KB
		e.slowPUTs(3)
		e.signal(access("grant", "Viewer", "slow", ""))
		for i := range 40 { // waiting together: two per role, and plans
			r := roles[i%5]
			e.signal(access([]workflows.Op{"grant", "revoke"}[i/5%2], r, id(1000+i), ""))
			e.signal(workflows.AccessEvent{Op: workflows.OpReconcile, RequestID: id(2000 + i), Expected: "Viewer", Actual: huge[:256]})
		}
	})
	e.env.ExecuteWorkflow(workflows.UserAccessWorkflow, workflows.UserAccessInput{User: e.user, MaxEventsPerRun: 221,
		State: &workflows.UserAccessState{Applied: applied, BaselineKnown: true}})
	next := continuedInput(t, e.env)
	size, err := json.Marshal(next)
	require.NoError(t, err)
	t.Logf("worst-case continue-as-new input: %d bytes (%d records, %d waiting events)", len(size), len(next.State.History), len(next.State.Pending))
	assert.Less(t, len(size), 1<<20)
	assert.Len(t, next.State.History, 200)
	assert.NotEmpty(t, next.State.Pending)
	assert.False(t, strings.Contains(string(size), huge[:700]), "no field from Tableau is kept whole (a message keeps at most 600 bytes)")
}
