package workflows

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"tabflow/tableau"
)

// The access entity's rules (SPEC §3.1) in plain Go: who holds which role,
// what is a duplicate, what is stale, what a later event makes moot, and
// what a grant, a revoke or an expiry asks of Tableau. UserAccess is the
// shell of queue, timers and child workflows around them.

// Grant is a role the entity holds for the user; ExpiresAt nil = until
// revoked. The grants query also lists the baseline, with Source "tableau".
type Grant struct {
	Role      tableau.SiteRole `json:"role"`
	ExpiresAt *time.Time       `json:"expiresAt,omitempty"`
	RequestID string           `json:"requestId,omitempty"`
	// RetryAt postpones a failed expiry.
	RetryAt *time.Time `json:"retryAt,omitempty"`
	// Source is "tableau" for the baseline: access given outside tabflow.
	Source string `json:"source,omitempty"`
}

// SourceTableau marks the baseline in the grants query.
const SourceTableau = "tableau"

// UserAccessState is the entity's memory, handed from run to run whole.
type UserAccessState struct {
	Seq int `json:"seq"`
	// RequestIDs are the raw IDs remembered by runs of version 1.
	RequestIDs []string `json:"requestIds,omitempty"`
	// Applied are the handled requests' keys (requestKey), oldest first.
	Applied []string `json:"applied,omitempty"`
	// LastAppliedAt is version 2's one event time for all roles; the
	// current rules read it once, through the history, into LastAt.
	LastAppliedAt *time.Time `json:"lastAppliedAt,omitempty"`
	// LastAt is, per role, the latest `at` of an applied event.
	LastAt map[tableau.SiteRole]time.Time `json:"lastAt,omitempty"`
	Grants []Grant                        `json:"grants,omitempty"`
	// Baseline is the role Tableau showed when the entity first acted, if
	// it was above every grant then held: access given outside tabflow.
	Baseline tableau.SiteRole `json:"baseline,omitempty"`
	// Role is the user's site role as Tableau last showed it to the entity.
	Role          tableau.SiteRole `json:"role,omitempty"`
	BaselineKnown bool             `json:"baselineKnown,omitempty"`
	History       []AccessRecord   `json:"history,omitempty"`
	Pending       []PendingEvent   `json:"pending,omitempty"`
	// Forget is set once the forget update arrived: the entity ends when its
	// pending events are applied, in whichever run that happens.
	Forget bool `json:"forget,omitempty"`

	seenRequestIDs map[string]bool // userAccessV1's index of RequestIDs
	handled        map[string]bool // index of Applied
}

// highestRole is the highest of roles, or "" for none.
func highestRole(roles []tableau.SiteRole) tableau.SiteRole {
	var best tableau.SiteRole
	for _, r := range roles {
		if tableau.RoleRank(r) > tableau.RoleRank(best) {
			best = r
		}
	}
	return best
}

// requestKey is how a handled request is remembered: (op, requestId), so one
// ticket may grant and later revoke. A grant's key is the digest version 2
// kept for its requestId alone, so upgraded memories still know their grants.
func requestKey(op Op, requestID string) string {
	if op == OpGrant {
		return requestDigest(requestID)
	}
	return requestDigest(string(op) + "\x00" + requestID)
}

// requestDigest is 16 bytes of SHA-256, so 10,000 keys stay small whatever
// upstream IDs look like.
func requestDigest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawStdEncoding.EncodeToString(sum[:16])
}

// load indexes the memory and brings one from an earlier version up to date.
func (st *UserAccessState) load(legacyRules bool) {
	kept := st.Applied
	st.Applied, st.handled = nil, map[string]bool{}
	for _, k := range kept {
		st.handle(k)
	}
	// Versions 1 and 2 remembered a request by its ID alone, grant or
	// revoke: the records they kept say which, so a redelivered old revoke
	// stays a duplicate. A version-1 ID with no record left is taken as both.
	legacy := !legacyRules && (len(st.RequestIDs) > 0 || st.LastAppliedAt != nil)
	for _, id := range st.RequestIDs { // version 1 kept raw IDs
		st.handle(requestDigest(id))
		if legacy && !slices.ContainsFunc(st.History, func(r AccessRecord) bool { return r.RequestID == id && r.Op == OpGrant }) {
			st.handle(requestKey(OpRevoke, id))
		}
	}
	st.RequestIDs = nil
	for _, r := range st.History {
		done := r.Outcome == OutcomeApplied || r.Outcome == OutcomeUnchanged
		if legacy && done && r.Op == OpRevoke && r.RequestID != "" {
			st.handle(requestKey(OpRevoke, r.RequestID))
		}
		if at, err := time.Parse(time.RFC3339, r.At); err == nil && done && st.LastAppliedAt != nil {
			st.noteAt(tableau.SiteRole(r.Role), at) // version 2 kept one time for all roles; the records say which role had which
		}
	}
	st.LastAppliedAt = nil
}

func (st *UserAccessState) noteAt(role tableau.SiteRole, at time.Time) {
	if st.LastAt == nil {
		st.LastAt = map[tableau.SiteRole]time.Time{}
	}
	if last, ok := st.LastAt[role]; !ok || at.After(last) {
		st.LastAt[role] = at
	}
}

// remember marks ev handled: a redelivery is a duplicate, and an event for
// its role with an earlier `at` is stale.
func (st *UserAccessState) remember(ev parsedEvent) {
	if ev.requestID != "" {
		st.handle(requestKey(ev.op, ev.requestID))
	}
	if ev.at != nil {
		st.noteAt(ev.role, *ev.at)
	}
}

// handle remembers a request key, forgetting the oldest past maxRequestIDs.
func (st *UserAccessState) handle(k string) {
	if st.handled[k] {
		return
	}
	st.handled[k] = true
	st.Applied = append(st.Applied, k)
	if len(st.Applied) > maxRequestIDs {
		delete(st.handled, st.Applied[0])
		st.Applied = slices.Clone(st.Applied[1:])
	}
}

// rememberFolded keeps the memory of the events folded into an applied one.
func (st *UserAccessState) rememberFolded(role tableau.SiteRole, f *FoldedEvents) {
	if f == nil {
		return
	}
	for _, k := range f.Keys {
		st.handle(k)
	}
	if f.At != nil {
		st.noteAt(role, *f.At)
	}
}

// moot is why ev needs no Tableau call (outcome and message), or "".
func (st *UserAccessState) moot(ev parsedEvent, now time.Time) (Outcome, string) {
	if ev.requestID != "" && st.handled[requestKey(ev.op, ev.requestID)] {
		return OutcomeDuplicate, fmt.Sprintf("%s request %s was already handled: ignored", ev.op, capText(ev.requestID, 64))
	}
	if last, ok := st.LastAt[ev.role]; ok && ev.at != nil && ev.at.Before(last) {
		return OutcomeStale, fmt.Sprintf("event time %s is older than the last applied %s event (%s): skipped",
			ev.at.Format(time.RFC3339), ev.role, last.Format(time.RFC3339))
	}
	if ev.expiresAt != nil && !ev.expiresAt.After(now) {
		return OutcomeExpired, fmt.Sprintf("the %s grant ran out at %s before it could be applied: nothing changed", ev.role, ev.expiresAt.Format(time.RFC3339))
	}
	return "", ""
}

// change is what one grant, revoke or expiry asks of Tableau, and the
// memory the entity keeps once Tableau has done it.
type change struct {
	op   Op               // OpGrant: Provision; OpRevoke: Deprovision; OpReconcile: SetSiteRole
	role tableau.SiteRole // grant: the role to set, at least; revoke: the role revoked
	// fallback is what a revoke sets instead of Unlicensed.
	fallback tableau.SiteRole
	// held is true when the revoked role is still held (an expiry of a role
	// the baseline gives): nothing to ask of Tableau.
	held     bool
	grants   []Grant
	baseline tableau.SiteRole
	// kept is the grant held for the role after a grant: an earlier, later
	// ending one when it outlasts the new one.
	kept Grant
	// ifRole is a reconcile's actual: the role is set only from it.
	ifRole tableau.SiteRole
	// keepHigher makes a legacy reconcile's role a minimum: while the
	// baseline was not known, what Tableau showed might be it.
	keepHigher bool
}

// expectedRole is the role grants (the baseline included) call for: the
// highest, else Unlicensed. Reconcile compares it with Tableau.
func expectedRole(grants []Grant) tableau.SiteRole {
	var roles []tableau.SiteRole
	for _, g := range grants {
		roles = append(roles, g.Role)
	}
	if r := highestRole(roles); r != "" {
		return r
	}
	return tableau.RoleUnlicensed
}

// planReconcile applies an approved change exactly (SPEC §3.2): only while
// the grants still call for its expected role; "" and why not otherwise.
// Tableau is asked to change the role only from the plan's actual one.
func (st *UserAccessState) planReconcile(expected, actual tableau.SiteRole) (change, string) {
	if now := expectedRole(st.grantsView()); now != expected {
		return change{}, fmt.Sprintf("the grants now call for %s, not the approved %s: nothing changed", now, expected)
	}
	return change{op: OpReconcile, role: expected, ifRole: actual, grants: st.Grants, baseline: st.Baseline}, ""
}

func (st *UserAccessState) heldRoles(grants []Grant, baseline tableau.SiteRole) []tableau.SiteRole {
	var roles []tableau.SiteRole
	for _, g := range grants {
		roles = append(roles, g.Role)
	}
	if baseline != "" {
		roles = append(roles, baseline)
	}
	return roles
}

// planGrant holds g: a role already held keeps the later end (a permanent
// grant is never shortened). The role to set is the highest of the grants
// and the baseline, and Provision never lowers what Tableau shows.
func (st *UserAccessState) planGrant(g Grant) change {
	c := change{op: OpGrant, grants: slices.Clone(st.Grants), baseline: st.Baseline, kept: g}
	i := slices.IndexFunc(c.grants, func(h Grant) bool { return h.Role == g.Role })
	switch {
	case i < 0:
		c.grants = append(c.grants, g)
	case c.grants[i].ExpiresAt == nil || (g.ExpiresAt != nil && !g.ExpiresAt.After(*c.grants[i].ExpiresAt)):
		c.kept = c.grants[i] // the held grant lasts at least as long
	default:
		c.grants[i] = g
	}
	var settable []tableau.SiteRole
	for _, r := range st.heldRoles(c.grants, c.baseline) {
		if slices.Contains(tableau.ProvisionableRoles, r) {
			settable = append(settable, r)
		}
	}
	c.role = highestRole(settable)
	return c
}

// planRevoke drops the role's grant (and, for an explicit revoke, the
// baseline of that role). Deprovision changes the role only if Tableau shows
// the revoked one, to the highest role still held below it: a revoke never
// raises access.
func (st *UserAccessState) planRevoke(role tableau.SiteRole, explicit bool) change {
	c := change{op: OpRevoke, role: role, baseline: st.Baseline, fallback: tableau.RoleUnlicensed}
	c.grants = slices.DeleteFunc(slices.Clone(st.Grants), func(g Grant) bool { return g.Role == role })
	if explicit && c.baseline == role {
		c.baseline = ""
	}
	remaining := st.heldRoles(c.grants, c.baseline)
	if slices.Contains(remaining, role) {
		c.held = true
		return c
	}
	below := slices.DeleteFunc(remaining, func(r tableau.SiteRole) bool { return tableau.RoleRank(r) >= tableau.RoleRank(role) })
	if r := highestRole(below); r != "" {
		c.fallback = r
	}
	return c
}

// commit keeps c's memory once Tableau has done it; shown is the role
// Tableau showed before. The first time the entity acts it records shown as
// the baseline, when no grant the entity holds explains it. It returns the
// warnings for the record: a revoke that left grants above the role.
func (st *UserAccessState) commit(c change, shown tableau.SiteRole) []string {
	if !st.BaselineKnown {
		st.BaselineKnown = true
		// An explicit revoke of the role shown, and an approved reconcile
		// (the admin said what Tableau showed is drift), record no baseline.
		explicitlyRevoked := c.op == OpRevoke && shown == c.role
		approved := c.op == OpReconcile && c.ifRole != ""
		if !explicitlyRevoked && !approved && tableau.RoleRank(shown) > tableau.RoleRank(highestRole(st.heldRoles(st.Grants, ""))) {
			c.baseline = shown
		}
	}
	st.Grants, st.Baseline = c.grants, c.baseline
	var warnings []string
	if c.op == OpRevoke && shown == c.role {
		if top := highestRole(st.heldRoles(c.grants, c.baseline)); tableau.RoleRank(top) > tableau.RoleRank(c.role) {
			warnings = append(warnings, fmt.Sprintf("the %s grant is still held, but Tableau showed %s (changed outside tabflow): "+
				"a revoke never raises access, so this is drift for Reconcile", top, c.role))
		}
	}
	return warnings
}

// dueGrant is a time-bound grant whose expiry (or retry) has come, if any.
func (st *UserAccessState) dueGrant(now time.Time) *Grant {
	for i, g := range st.Grants {
		if t := g.due(); t != nil && !t.After(now) {
			return &st.Grants[i]
		}
	}
	return nil
}

// nextDue is when the next time-bound grant expires (or retries), if any.
func (st *UserAccessState) nextDue() *time.Time {
	var next *time.Time
	for _, g := range st.Grants {
		if t := g.due(); t != nil && (next == nil || t.Before(*next)) {
			next = t
		}
	}
	return next
}

func (g Grant) due() *time.Time {
	if g.RetryAt != nil {
		return g.RetryAt
	}
	return g.ExpiresAt
}

// grantsView answers the grants query: the grants, then the baseline.
func (st *UserAccessState) grantsView() []Grant {
	out := append([]Grant{}, st.Grants...)
	if st.Baseline != "" {
		out = append(out, Grant{Role: st.Baseline, Source: SourceTableau})
	}
	return out
}

// forgetRefusal is why the entity may not end now, or "": a time-bound
// grant held or waiting would never be revoked.
func (st *UserAccessState) forgetRefusal(waiting []parsedEvent) string {
	var timed []string
	for _, g := range st.Grants {
		if g.ExpiresAt != nil {
			timed = append(timed, fmt.Sprintf("%s until %s", g.Role, g.ExpiresAt.Format(time.RFC3339)))
		}
	}
	for _, ev := range waiting {
		if ev.expiresAt != nil {
			timed = append(timed, fmt.Sprintf("%s until %s (waiting to be applied)", ev.role, ev.expiresAt.Format(time.RFC3339)))
		}
	}
	if len(timed) == 0 {
		return ""
	}
	return fmt.Sprintf("forget refused: the time-bound grant %s would never be revoked; revoke it first, or forget after it expires",
		strings.Join(timed, ", "))
}

func lastN[T any](s []T, n int) []T {
	if len(s) > n {
		return slices.Clone(s[len(s)-n:])
	}
	return s
}
