package workflows_test

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// accessModel is SPEC §3.1 as a one-at-a-time reference: every accepted
// event is applied alone, in arrival order, against the role Tableau shows
// at that moment. It shares no code with the entity (workflows/access_rules.go),
// so a rule written wrong there is not written wrong here too.
type accessModel struct {
	grants        map[string]*time.Time // role → expiry; nil = until revoked
	baseline      string
	baselineKnown bool
	lastAt        map[string]time.Time
	handled       map[string]bool // op + "\x00" + requestId
	tableau       string          // the role Tableau shows
	ended         bool
}

func newAccessModel(tableauRole string) *accessModel {
	return &accessModel{grants: map[string]*time.Time{}, lastAt: map[string]time.Time{}, handled: map[string]bool{}, tableau: tableauRole}
}

// modelRank is SPEC's order: Creator > SiteAdministratorExplorer >
// ExplorerCanPublish > Explorer > Viewer; SiteAdministratorCreator (set only
// by hand here) above them all; Unlicensed below.
func modelRank(role string) int {
	return map[string]int{"Viewer": 1, "Explorer": 2, "ExplorerCanPublish": 3, "SiteAdministratorExplorer": 4, "Creator": 5, "SiteAdministratorCreator": 6}[role]
}

// granted are the roles held: grants and the baseline.
func (m *accessModel) held() []string {
	roles := slices.Collect(maps.Keys(m.grants))
	if m.baseline != "" {
		roles = append(roles, m.baseline)
	}
	return roles
}

func top(roles []string, below int) string {
	best := ""
	for _, r := range roles {
		if modelRank(r) < below && modelRank(r) > modelRank(best) {
			best = r
		}
	}
	return best
}

// modelEvent is one access event as the schedule sends it.
type modelEvent struct {
	op, role, requestID string
	at                  *time.Time
	expiresAt           *time.Time // grants: from duration, counted from arrival
	expected, actual    string     // reconcile
	skewed              bool       // `at` over 5 minutes after arrival: rejected
}

func (e modelEvent) key() string { return e.op + "\x00" + e.requestID }

// firstAct records the baseline the first time the entity acts: the role
// Tableau shows then, when no grant held explains it, unless the event
// explicitly revokes that very role (or an approved reconcile says it is drift).
func (m *accessModel) firstAct(shown string, explicitRevoke string, reconcile bool) {
	if m.baselineKnown {
		return
	}
	m.baselineKnown = true
	if reconcile || shown == explicitRevoke {
		return
	}
	if modelRank(shown) > modelRank(top(slices.Collect(maps.Keys(m.grants)), 99)) {
		m.baseline = shown
	}
}

// write sets Tableau's role; false when Tableau refuses writes (a fault).
type writeFunc func(role string) bool

// apply applies one event at now; the outcome is what the entity answers.
func (m *accessModel) apply(e modelEvent, now time.Time, write writeFunc) string {
	switch {
	case m.ended || e.skewed:
		return "rejected"
	case e.requestID != "" && m.handled[e.key()]:
		return "duplicate"
	}
	if last, ok := m.lastAt[e.role]; ok && e.at != nil && e.at.Before(last) {
		return "stale"
	}
	if e.expiresAt != nil && !e.expiresAt.After(now) {
		m.remember(e)
		return "expired"
	}
	shown := m.tableau
	outcome := "unchanged"
	switch e.op {
	case "grant":
		end := e.expiresAt
		if held, ok := m.grants[e.role]; ok && (held == nil || (end != nil && !end.After(*held))) {
			end = held // the later end wins; a permanent grant is never shortened
		}
		grants := maps.Clone(m.grants)
		grants[e.role] = end
		roles := slices.Collect(maps.Keys(grants))
		if m.baseline != "" && m.baseline != "SiteAdministratorCreator" {
			roles = append(roles, m.baseline)
		}
		target := top(roles, 99)
		if modelRank(shown) < modelRank(target) {
			if !write(target) {
				return "failed"
			}
			outcome = "applied"
		}
		m.firstAct(shown, "", false)
		m.grants = grants
	case "revoke":
		grants := maps.Clone(m.grants)
		delete(grants, e.role)
		baseline := m.baseline
		if baseline == e.role {
			baseline = ""
		}
		if shown == e.role {
			fallback := top(append(slices.Collect(maps.Keys(grants)), baseline), modelRank(e.role))
			if fallback == "" {
				fallback = "Unlicensed"
			}
			if !write(fallback) {
				return "failed"
			}
			outcome = "applied"
		}
		m.firstAct(shown, e.role, false)
		m.grants = grants
		if m.baseline == e.role {
			m.baseline = ""
		}
	case "reconcile":
		if m.expected() != e.expected || shown != e.actual {
			m.remember(e)
			return "stale"
		}
		if shown != e.expected {
			if !write(e.expected) {
				return "failed"
			}
			outcome = "applied"
		}
		m.firstAct(shown, "", true)
	}
	m.remember(e)
	return outcome
}

// expected is what Reconcile compares with Tableau: the highest grant or
// baseline, else Unlicensed.
func (m *accessModel) expected() string {
	if r := top(m.held(), 99); r != "" {
		return r
	}
	return "Unlicensed"
}

func (m *accessModel) remember(e modelEvent) {
	if e.requestID != "" {
		m.handled[e.key()] = true
	}
	if e.at != nil {
		if last, ok := m.lastAt[e.role]; !ok || e.at.After(last) {
			m.lastAt[e.role] = *e.at
		}
	}
}

// nextExpiry is the soonest time-bound grant's role and end.
func (m *accessModel) nextExpiry() (string, *time.Time) {
	role, end := "", (*time.Time)(nil)
	for r, t := range m.grants {
		if t != nil && (end == nil || t.Before(*end)) {
			role, end = r, t
		}
	}
	return role, end
}

// expire revokes a time-bound grant at its end, back to the highest of the
// baseline and the grants still held (never raising access).
func (m *accessModel) expire(role string, write writeFunc) bool {
	grants := maps.Clone(m.grants)
	delete(grants, role)
	remaining := slices.Collect(maps.Keys(grants))
	if m.baseline != "" {
		remaining = append(remaining, m.baseline)
	}
	shown := m.tableau
	if !slices.Contains(remaining, role) && shown == role {
		fallback := top(remaining, modelRank(role))
		if fallback == "" {
			fallback = "Unlicensed"
		}
		if !write(fallback) {
			return false
		}
	}
	m.firstAct(shown, role, false)
	m.grants = grants
	return true
}

// forget ends the entity unless a time-bound grant is held.
func (m *accessModel) forget() bool {
	for _, t := range m.grants {
		if t != nil {
			return false
		}
	}
	m.ended = true
	return true
}

// summary is the state the equivalence rule compares: grants with their
// ends, the baseline, and Tableau's role.
func (m *accessModel) summary() string {
	var gs []string
	for r, t := range m.grants {
		end := "permanent"
		if t != nil {
			end = t.UTC().Format(time.RFC3339)
		}
		gs = append(gs, r+" "+end)
	}
	sort.Strings(gs)
	return fmt.Sprintf("grants [%s] baseline %q tableau %s", strings.Join(gs, ", "), m.baseline, m.tableau)
}
