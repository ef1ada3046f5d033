package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/tableau"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func at(min int) *time.Time { t := t0.Add(time.Duration(min) * time.Minute); return &t }

func TestRoleOrderOverEveryProvisionableRole(t *testing.T) {
	want := []tableau.SiteRole{tableau.RoleCreator, tableau.RoleSiteAdministratorExplorer, tableau.RoleExplorerCanPublish, tableau.RoleExplorer, tableau.RoleViewer}
	for i := range want {
		for j := i + 1; j < len(want); j++ {
			assert.Greater(t, tableau.RoleRank(want[i]), tableau.RoleRank(want[j]), "%s above %s", want[i], want[j])
			assert.Equal(t, want[i], highestRole([]tableau.SiteRole{want[j], want[i]}))
		}
		assert.Greater(t, tableau.RoleRank(want[i]), tableau.RoleRank(tableau.RoleUnlicensed))
	}
	assert.Greater(t, tableau.RoleRank(tableau.RoleSiteAdministratorCreator), tableau.RoleRank(tableau.RoleCreator))
	assert.Equal(t, tableau.SiteRole(""), highestRole(nil))
}

func TestMootDuplicateIsPerOpAndRequestID(t *testing.T) {
	var st UserAccessState
	st.load(false)
	st.remember(parsedEvent{op: OpGrant, role: tableau.RoleCreator, requestID: "T-1"})
	for _, c := range []struct {
		op   Op
		id   string
		want Outcome
	}{
		{OpGrant, "T-1", OutcomeDuplicate},
		{OpRevoke, "T-1", ""}, // one ticket grants, later revokes
		{OpGrant, "T-2", ""},
		{OpGrant, "", ""}, // no requestId: never a duplicate
	} {
		got, _ := st.moot(parsedEvent{op: c.op, role: tableau.RoleCreator, requestID: c.id}, t0)
		assert.Equal(t, c.want, got, "%s %s", c.op, c.id)
	}
}

func TestMootStaleIsPerRole(t *testing.T) {
	var st UserAccessState
	st.load(false)
	st.remember(parsedEvent{op: OpGrant, role: tableau.RoleViewer, at: at(1)})
	for _, c := range []struct {
		name string
		ev   parsedEvent
		want Outcome
	}{
		{"an older event for the same role", parsedEvent{op: OpRevoke, role: tableau.RoleViewer, at: at(0)}, OutcomeStale},
		{"the same at as the last applied", parsedEvent{op: OpRevoke, role: tableau.RoleViewer, at: at(1)}, ""},
		{"a later event", parsedEvent{op: OpRevoke, role: tableau.RoleViewer, at: at(2)}, ""},
		{"an older event for another role", parsedEvent{op: OpRevoke, role: tableau.RoleCreator, at: at(0)}, ""},
		{"no at", parsedEvent{op: OpRevoke, role: tableau.RoleViewer}, ""},
		{"a grant whose time ran out while it waited", parsedEvent{op: OpGrant, role: tableau.RoleCreator, expiresAt: at(-1)}, OutcomeExpired},
	} {
		got, _ := st.moot(c.ev, t0)
		assert.Equal(t, c.want, got, c.name)
	}
}

// Version 2 kept one event time for all roles and grant digests of the
// requestId alone: an upgraded memory keeps both, per role.
func TestLoadUpgradesVersion2Memory(t *testing.T) {
	st := UserAccessState{Applied: []string{requestDigest("r1")}, LastAppliedAt: at(5), History: []AccessRecord{
		{Op: OpGrant, Role: "Explorer", At: at(3).Format(time.RFC3339), Outcome: OutcomeApplied},
		{Op: OpRevoke, Role: "Creator", At: at(5).Format(time.RFC3339), Outcome: OutcomeApplied},
		{Op: OpGrant, Role: "Viewer", At: at(9).Format(time.RFC3339), Outcome: OutcomeFailed},
	}}
	st.load(false)
	dup, _ := st.moot(parsedEvent{op: OpGrant, role: tableau.RoleExplorer, requestID: "r1"}, t0)
	assert.Equal(t, OutcomeDuplicate, dup)
	stale, _ := st.moot(parsedEvent{op: OpGrant, role: tableau.RoleCreator, at: at(4)}, t0)
	assert.Equal(t, OutcomeStale, stale)
	notStale, _ := st.moot(parsedEvent{op: OpGrant, role: tableau.RoleViewer, at: at(4)}, t0)
	assert.Empty(t, notStale, "a failed event set no time")
	assert.Nil(t, st.LastAppliedAt)
}

// Issue 24, defect 8: versions 1 and 2 keyed every request as a grant, so a
// redelivered old revoke ran again. Their records say which was a revoke.
func TestLoadKnowsOldRevokes(t *testing.T) {
	v2 := UserAccessState{Applied: []string{requestDigest("g1"), requestDigest("r1")}, LastAppliedAt: at(5), History: []AccessRecord{
		{Op: OpGrant, Role: "Explorer", RequestID: "g1", Outcome: OutcomeApplied},
		{Op: OpRevoke, Role: "Explorer", RequestID: "r1", Outcome: OutcomeApplied},
	}}
	v2.load(false)
	dup, _ := v2.moot(parsedEvent{op: OpRevoke, role: tableau.RoleExplorer, requestID: "r1"}, t0)
	assert.Equal(t, OutcomeDuplicate, dup, "the old revoke redelivered")
	again, _ := v2.moot(parsedEvent{op: OpRevoke, role: tableau.RoleExplorer, requestID: "g1"}, t0)
	assert.Empty(t, again, "the grant's ticket may still revoke it")

	v1 := UserAccessState{RequestIDs: []string{"g1", "r1", "lost"}, History: []AccessRecord{{Op: OpGrant, RequestID: "g1", Outcome: OutcomeApplied}}}
	v1.load(false)
	for _, c := range []struct {
		op   Op
		id   string
		want Outcome
	}{{OpGrant, "g1", OutcomeDuplicate}, {OpRevoke, "g1", ""}, {OpRevoke, "r1", OutcomeDuplicate}, {OpRevoke, "lost", OutcomeDuplicate}, {OpGrant, "lost", OutcomeDuplicate}} {
		got, _ := v1.moot(parsedEvent{op: c.op, role: tableau.RoleExplorer, requestID: c.id}, t0)
		assert.Equal(t, c.want, got, "%s %s", c.op, c.id)
	}
}

func TestCoalesce(t *testing.T) {
	grant := func(at *time.Time) parsedEvent { return parsedEvent{op: OpGrant, role: tableau.RoleCreator, at: at} }
	revoke := func(at *time.Time) parsedEvent { return parsedEvent{op: OpRevoke, role: tableau.RoleCreator, at: at} }
	other := func(op Op) parsedEvent { return parsedEvent{op: op, role: tableau.RoleViewer} }
	for _, c := range []struct {
		name     string
		ahead    *time.Time
		queue    []parsedEvent
		ev       parsedEvent
		wantMoot int
		wantFold bool
	}{
		{"nothing waiting", nil, nil, grant(nil), -1, false},
		{"grant, grant: folded into the later", nil, []parsedEvent{grant(nil)}, grant(nil), 0, true},
		{"revoke, revoke: the later finds nothing left", nil, []parsedEvent{revoke(nil)}, revoke(nil), 0, false},
		{"grant, revoke: both kept (the grant may raise what the revoke then lowers)", nil, []parsedEvent{grant(nil)}, revoke(nil), -1, false},
		{"revoke, grant: both kept (the revoke removes a baseline)", nil, []parsedEvent{revoke(nil)}, grant(nil), -1, false},
		{"grant, revoke, grant: the revoke undoes the first grant", nil, []parsedEvent{grant(nil), revoke(nil)}, grant(nil), 0, false},
		{"revoke, grant, revoke: the first revoke is in the second", nil, []parsedEvent{revoke(nil), grant(nil)}, revoke(nil), 0, false},
		{"equal times are in order", nil, []parsedEvent{grant(at(1))}, grant(at(1)), 0, true},
		{"times in order", nil, []parsedEvent{revoke(at(1)), grant(at(2))}, revoke(at(3)), 0, false},
		{"an older time arriving later: kept, it turns stale at its turn", nil, []parsedEvent{grant(at(2))}, grant(at(1)), -1, false},
		{"waiting events out of order: kept", nil, []parsedEvent{grant(at(2)), revoke(at(1))}, grant(at(3)), -1, false},
		{"times only on some: in order", nil, []parsedEvent{grant(at(1)), revoke(nil)}, grant(at(2)), 0, false},
		{"a waiting grant older than the event ahead of it turns stale: kept", at(5), []parsedEvent{grant(at(1))}, grant(nil), -1, false},
		{"events ahead older: in order", at(1), []parsedEvent{grant(at(2))}, grant(nil), 0, true},
		{"grant, another role's grant, grant: grants commute", nil, []parsedEvent{grant(nil), other(OpGrant)}, grant(nil), 0, true},
		{"grant, another role's revoke, grant: kept (the first grant may raise what the revoke lowers)", nil, []parsedEvent{grant(nil), other(OpRevoke)}, grant(nil), -1, false},
		{"revoke, another role's revoke, revoke: revokes commute", nil, []parsedEvent{revoke(nil), other(OpRevoke)}, revoke(nil), 0, false},
		{"revoke, another role's grant, revoke: kept", nil, []parsedEvent{revoke(nil), other(OpGrant)}, revoke(nil), -1, false},
		{"grant, revoke, another role's event, grant: not next to each other, kept", nil, []parsedEvent{grant(nil), revoke(nil), other(OpGrant)}, grant(nil), -1, false},
		{"grant, another role's event, revoke, grant: kept", nil, []parsedEvent{grant(nil), other(OpRevoke), revoke(nil)}, grant(nil), -1, false},
		{"a reconcile between grants: kept", nil, []parsedEvent{grant(nil), {op: OpReconcile}}, grant(nil), -1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			moot, fold := coalesce(c.ahead, c.queue, c.ev)
			assert.Equal(t, c.wantMoot, moot)
			assert.Equal(t, c.wantFold, fold)
		})
	}
}

func TestLaterEnd(t *testing.T) {
	assert.Nil(t, laterEnd(nil, at(1)), "a grant until revoked outlasts any end")
	assert.Nil(t, laterEnd(at(1), nil))
	assert.Equal(t, at(2), laterEnd(at(1), at(2)))
	assert.Equal(t, at(2), laterEnd(at(2), at(1)))
}

func grants(gs ...Grant) []Grant { return gs }
func g(role tableau.SiteRole, expires *time.Time) Grant {
	return Grant{Role: role, ExpiresAt: expires}
}

func TestPlanGrant(t *testing.T) {
	for _, c := range []struct {
		name       string
		held       []Grant
		baseline   tableau.SiteRole
		grant      Grant
		wantRole   tableau.SiteRole
		wantExpiry *time.Time // of the role's grant after
	}{
		{"first grant", nil, "", g(tableau.RoleExplorer, nil), tableau.RoleExplorer, nil},
		{"a lower grant keeps the higher one", grants(g(tableau.RoleCreator, nil)), "", g(tableau.RoleViewer, nil), tableau.RoleCreator, nil},
		{"a lower grant keeps the baseline", nil, tableau.RoleCreator, g(tableau.RoleViewer, at(60)), tableau.RoleCreator, at(60)},
		{"a time-bound grant never shortens a permanent one", grants(g(tableau.RoleExplorer, nil)), "", g(tableau.RoleExplorer, at(120)), tableau.RoleExplorer, nil},
		{"a later expiry extends", grants(g(tableau.RoleExplorer, at(60))), "", g(tableau.RoleExplorer, at(120)), tableau.RoleExplorer, at(120)},
		{"an earlier expiry does not shorten", grants(g(tableau.RoleExplorer, at(120))), "", g(tableau.RoleExplorer, at(60)), tableau.RoleExplorer, at(120)},
		{"a permanent grant makes it permanent", grants(g(tableau.RoleExplorer, at(60))), "", g(tableau.RoleExplorer, nil), tableau.RoleExplorer, nil},
		{"SiteAdministratorExplorer is below Creator", grants(g(tableau.RoleCreator, nil)), "", g(tableau.RoleSiteAdministratorExplorer, nil), tableau.RoleCreator, nil},
		{"an admin baseline is kept by Provision, not set", nil, tableau.RoleSiteAdministratorCreator, g(tableau.RoleViewer, nil), tableau.RoleViewer, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := UserAccessState{Grants: c.held, Baseline: c.baseline, BaselineKnown: true}
			ch := st.planGrant(c.grant)
			assert.Equal(t, c.wantRole, ch.role)
			var after *Grant
			for i := range ch.grants {
				if ch.grants[i].Role == c.grant.Role {
					after = &ch.grants[i]
				}
			}
			require.NotNil(t, after)
			assert.Equal(t, c.wantExpiry, after.ExpiresAt)
			assert.Equal(t, *after, ch.kept)
			assert.Equal(t, c.held, st.Grants, "planning changes no memory")
		})
	}
}

func TestPlanRevoke(t *testing.T) {
	for _, c := range []struct {
		name         string
		held         []Grant
		baseline     tableau.SiteRole
		role         tableau.SiteRole
		explicit     bool
		wantFallback tableau.SiteRole
		wantHeld     bool
		wantBaseline tableau.SiteRole
	}{
		{"no grant left", grants(g(tableau.RoleExplorer, nil)), "", tableau.RoleExplorer, true, tableau.RoleUnlicensed, false, ""},
		{"falls back to the grant still held", grants(g(tableau.RoleViewer, nil), g(tableau.RoleCreator, nil)), "", tableau.RoleCreator, true, tableau.RoleViewer, false, ""},
		{"never raises: a higher grant is not a fallback", grants(g(tableau.RoleCreator, nil), g(tableau.RoleExplorer, nil)), "", tableau.RoleExplorer, true, tableau.RoleUnlicensed, false, ""},
		{"the baseline counts as a grant", grants(g(tableau.RoleCreator, at(60))), tableau.RoleViewer, tableau.RoleCreator, false, tableau.RoleViewer, false, tableau.RoleViewer},
		{"an explicit revoke of the baseline's role removes it", nil, tableau.RoleCreator, tableau.RoleCreator, true, tableau.RoleUnlicensed, false, ""},
		{"an expiry of the baseline's role changes nothing", grants(g(tableau.RoleCreator, at(60))), tableau.RoleCreator, tableau.RoleCreator, false, tableau.RoleUnlicensed, true, tableau.RoleCreator},
		{"falls back over all five roles", grants(g(tableau.RoleViewer, nil), g(tableau.RoleExplorer, nil), g(tableau.RoleExplorerCanPublish, nil), g(tableau.RoleSiteAdministratorExplorer, nil)), "", tableau.RoleSiteAdministratorExplorer, true, tableau.RoleExplorerCanPublish, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := UserAccessState{Grants: c.held, Baseline: c.baseline, BaselineKnown: true}
			ch := st.planRevoke(c.role, c.explicit)
			assert.Equal(t, c.wantHeld, ch.held)
			if !c.wantHeld {
				assert.Equal(t, c.wantFallback, ch.fallback)
			}
			assert.Equal(t, c.wantBaseline, ch.baseline)
			for _, h := range ch.grants {
				assert.NotEqual(t, c.role, h.Role, "the revoked grant is dropped")
			}
		})
	}
}

func TestCommitRecordsTheBaselineOnce(t *testing.T) {
	for _, c := range []struct {
		name  string
		held  []Grant
		op    Op
		role  tableau.SiteRole
		shown tableau.SiteRole
		want  tableau.SiteRole
	}{
		{"access given in Tableau", nil, OpGrant, tableau.RoleViewer, tableau.RoleCreator, tableau.RoleCreator},
		{"an Unlicensed baseline is no baseline", nil, OpGrant, tableau.RoleViewer, tableau.RoleUnlicensed, ""},
		{"a revoke of the role shown removes it", nil, OpRevoke, tableau.RoleCreator, tableau.RoleCreator, ""},
		{"a revoke of another role keeps it", nil, OpRevoke, tableau.RoleViewer, tableau.RoleExplorer, tableau.RoleExplorer},
		{"a role a grant explains is no baseline (upgraded memory)", grants(g(tableau.RoleExplorer, nil)), OpGrant, tableau.RoleCreator, tableau.RoleExplorer, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := UserAccessState{Grants: c.held}
			var ch change
			if c.op == OpGrant {
				ch = st.planGrant(g(c.role, nil))
			} else {
				ch = st.planRevoke(c.role, true)
			}
			st.commit(ch, c.shown)
			assert.Equal(t, c.want, st.Baseline)
			assert.True(t, st.BaselineKnown)
			st.commit(st.planGrant(g(tableau.RoleViewer, nil)), tableau.RoleSiteAdministratorCreator)
			assert.Equal(t, c.want, st.Baseline, "recorded the first time only")
		})
	}
}

func TestCommitWarnsOfGrantsAboveARevokedRole(t *testing.T) {
	st := UserAccessState{Grants: grants(g(tableau.RoleCreator, nil), g(tableau.RoleExplorer, nil)), BaselineKnown: true}
	warnings := st.commit(st.planRevoke(tableau.RoleExplorer, true), tableau.RoleExplorer)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "the Creator grant is still held, but Tableau showed Explorer")
	assert.Empty(t, st.commit(st.planRevoke(tableau.RoleViewer, true), tableau.RoleCreator), "a revoke that changed nothing warns of nothing")
}

func TestForgetRefusalNamesTimeBoundGrants(t *testing.T) {
	st := UserAccessState{Grants: grants(g(tableau.RoleViewer, nil))}
	assert.Empty(t, st.forgetRefusal(nil))
	st.Grants = append(st.Grants, g(tableau.RoleCreator, at(60)))
	assert.Contains(t, st.forgetRefusal(nil), "the time-bound grant Creator until 2026-11-23T11:00:00Z would never be revoked")
	st.Grants = st.Grants[:1]
	assert.Contains(t, st.forgetRefusal([]parsedEvent{{op: OpGrant, role: tableau.RoleExplorer, expiresAt: at(5)}}), "Explorer until 2026-11-23T10:05:00Z (waiting to be applied)")
}

func TestParseEventBoundaries(t *testing.T) {
	ok := strings.Repeat("x", maxFieldBytes)
	_, msg := parseEvent(AccessEvent{Op: OpGrant, Role: "Viewer", RequestID: ok}, t0)
	assert.Empty(t, msg, "a field of exactly %d bytes is accepted", maxFieldBytes)
	_, msg = parseEvent(AccessEvent{Op: OpGrant, Role: "Viewer", RequestID: ok + "x"}, t0)
	assert.Contains(t, msg, "requestId is 257 bytes long; at most 256")

	ev, msg := parseEvent(AccessEvent{Op: OpGrant, Role: "Viewer", Duration: "8h"}, t0)
	require.Empty(t, msg)
	assert.Equal(t, t0.Add(8*time.Hour), *ev.expiresAt, "a duration counts from when the event arrived")
}

// Megabytes of hostile input leave each record bounded in JSON bytes.
func TestRecordsAreBoundedInJSONBytes(t *testing.T) {
	var ev AccessEvent
	fields := map[string]string{"op": strings.Repeat("<", 5000), "role": strings.Repeat("\x01", 5000), "requestId": strings.Repeat("<", 300), "at": "\xff\xfe"}
	for i := range 12_000 {
		fields[fmt.Sprintf("f%05d", i)] = "x"
	}
	payload, err := DataConverter.ToPayload(fields)
	require.NoError(t, err)
	require.NoError(t, DataConverter.FromPayload(payload, &ev))
	_, msg := parseEvent(ev, t0)
	assert.Contains(t, msg, "and 11,997 more")
	assert.Equal(t, "1,234,567", thousands(1234567))
	assert.Equal(t, "999", thousands(999))
	rec := capRecord(AccessRecord{Op: ev.Op, Role: ev.Role, RequestID: ev.RequestID, At: ev.At, Outcome: OutcomeRejected, Message: msg,
		Warnings: []string{strings.Repeat("<", 9000), "b", "c", "d", "e"}})
	out, err := json.Marshal(rec)
	require.NoError(t, err)
	assert.Less(t, len(out), 4*maxKeptField+(maxKeptWarnings+1)*maxKeptMessage+maxKeptMessage+200, "one record, JSON-encoded")
	assert.Contains(t, rec.Warnings[maxKeptWarnings], "and 2 more")
}

func TestLicensingWarnings(t *testing.T) {
	u := &tableau.User{Name: "ana@example.com", SiteRole: tableau.RoleCreator}
	sync := tableau.Group{Name: "Finance", Import: &tableau.GroupImport{SiteRole: tableau.RoleCreator, GrantLicenseMode: "onSync"}}
	for _, c := range []struct {
		name   string
		user   *tableau.User
		groups []tableau.Group
		err    error
		next   tableau.SiteRole
		want   []string
	}{
		{"a group at or below the new role", u, []tableau.Group{{Name: "V", MinimumSiteRole: tableau.RoleViewer}}, nil, tableau.RoleViewer, nil},
		{"an imported group that licenses nobody", u, []tableau.Group{{Name: "AD", Import: &tableau.GroupImport{SiteRole: tableau.RoleCreator, GrantLicenseMode: "onDemand"}}}, nil, tableau.RoleUnlicensed, nil},
		{"licenses at sync", u, []tableau.Group{sync}, nil, tableau.RoleExplorer, []string{`group "Finance" licenses its members as Creator at the next sync: ana@example.com will be Creator again at the next sync unless removed from the group (in its directory or identity provider)`}},
		{"an identity provider", &tableau.User{Name: "b", SiteRole: tableau.RoleCreator, IdpConfigurationID: "idp-1", AuthSetting: "SAML"}, nil, nil, tableau.RoleUnlicensed,
			[]string{"an identity provider manages b (idpConfigurationId idp-1, authSetting SAML): with SCIM provisioning on, it may set the role back"}},
		{"groups unreadable", u, nil, errors.New("HTTP 403"), tableau.RoleUnlicensed, []string{"could not read the user's groups (HTTP 403): a group that licenses at sign-in may undo this change"}},
	} {
		assert.Equal(t, c.want, licensingWarnings(c.user, c.groups, c.err, c.next), c.name)
	}
}

func TestExpectedRole(t *testing.T) {
	assert.Equal(t, tableau.RoleUnlicensed, expectedRole(nil))
	assert.Equal(t, tableau.RoleCreator, expectedRole(grants(g(tableau.RoleViewer, nil), g(tableau.RoleCreator, at(5)))))
	assert.Equal(t, tableau.RoleSiteAdministratorCreator, expectedRole(grants(g(tableau.RoleViewer, nil), Grant{Role: tableau.RoleSiteAdministratorCreator, Source: SourceTableau})))
	assert.Equal(t, tableau.RoleServerAdministrator, expectedRole(grants(g(tableau.RoleViewer, nil), Grant{Role: tableau.RoleServerAdministrator, Source: SourceTableau})), "a server administrator stays one")
}

// Issue 24, defect 8: a legacy entity hands over a grant that expired on the
// way as one that runs out at once, never as an explicit revoke (which
// would remove the receiver's baseline).
func TestMemoryEventsHandAnExpiredGrantOverAsAnExpiry(t *testing.T) {
	st := &UserAccessState{Grants: []Grant{g(tableau.RoleViewer, nil), g(tableau.RoleCreator, at(1)), g(tableau.RoleExplorer, at(9))},
		Pending: []PendingEvent{{Event: AccessEvent{Op: OpRevoke, Role: "Viewer", RequestID: "p"}}}}
	assert.Equal(t, []AccessEvent{
		{Op: OpGrant, Role: "Viewer"},
		{Op: OpGrant, Role: "Creator", Duration: "1s"},
		{Op: OpGrant, Role: "Explorer", ExpiresAt: at(9).Format(time.RFC3339)},
		{Op: OpRevoke, Role: "Viewer", RequestID: "p"},
	}, memoryEvents(st, *at(5)))
}
