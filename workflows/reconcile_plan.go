package workflows

import (
	"fmt"
	"strings"
	"time"

	"tabflow/activities"
	"tabflow/tableau"
)

// Reconcile's plan (SPEC §3.2), in plain Go: Tableau's users against what
// the access entities' grants call for.

// ReconcilePlan is Reconcile's result, and its plan query's answer.
type ReconcilePlan struct {
	PlanID    string         `json:"planId"`
	Changes   []DriftChange  `json:"changes"`
	Unmanaged UnmanagedUsers `json:"unmanaged"`
	Inactive  []InactiveUser `json:"inactive"`
	// Applied counts the changes an entity carried out (outcome applied).
	Applied int `json:"applied"`
	// Failed names the changes an entity could not carry out, and why.
	Failed  []string `json:"failed,omitempty"`
	Message string   `json:"message"`
}

// DriftChange is a managed user whose Tableau role is not the one the grants call for.
type DriftChange struct {
	User     string `json:"user"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
}

// UnmanagedUsers are licensed users no entity manages: counted, the first listed.
type UnmanagedUsers struct {
	Count int        `json:"count"`
	Users []UserRole `json:"users"`
}

// UserRole is a user and the role Tableau shows.
type UserRole struct {
	User string `json:"user"`
	Role string `json:"role"`
}

// InactiveUser is a managed user who has not signed in for inactiveDays
// (LastLogin empty: never). Reported only: lastLogin does not see Desktop use.
type InactiveUser struct {
	User      string `json:"user"`
	Role      string `json:"role"`
	LastLogin string `json:"lastLogin,omitempty"`
}

// Bounds that keep a plan far below Temporal's payload limit on any site.
const (
	maxListedChanges   = 1000
	maxListedUnmanaged = 100
	maxListedInactive  = 100
)

// planner builds a plan page by page, keeping only what the plan lists.
type planner struct {
	expected       map[string]tableau.SiteRole // lower-cased user → role its grants call for
	seen           map[string]bool
	inactiveBefore *time.Time
	plan           ReconcilePlan
	changes        int
	inactive       int
}

func newPlanner(planID string, expected map[string]tableau.SiteRole, now time.Time, inactiveDays int) *planner {
	p := &planner{expected: expected, seen: map[string]bool{},
		plan: ReconcilePlan{PlanID: planID, Changes: []DriftChange{}, Unmanaged: UnmanagedUsers{Users: []UserRole{}}, Inactive: []InactiveUser{}}}
	if inactiveDays > 0 {
		t := now.AddDate(0, 0, -inactiveDays)
		p.inactiveBefore = &t
	}
	return p
}

// add compares one page of Tableau's users.
func (p *planner) add(users []activities.SiteUser) {
	for _, u := range users {
		key := strings.ToLower(u.Name)
		want, managed := p.expected[key]
		if !managed {
			if u.Role != tableau.RoleUnlicensed {
				p.plan.Unmanaged.Count++
				if len(p.plan.Unmanaged.Users) < maxListedUnmanaged {
					p.plan.Unmanaged.Users = append(p.plan.Unmanaged.Users, UserRole{User: u.Name, Role: string(u.Role)})
				}
			}
			continue
		}
		p.seen[key] = true
		if u.Role != want {
			p.changes++
			if len(p.plan.Changes) < maxListedChanges {
				p.plan.Changes = append(p.plan.Changes, DriftChange{User: u.Name, Expected: string(want), Actual: string(u.Role)})
			}
		}
		if p.inactiveBefore != nil && isInactive(u.LastLogin, *p.inactiveBefore) {
			p.inactive++
			if len(p.plan.Inactive) < maxListedInactive {
				p.plan.Inactive = append(p.plan.Inactive, InactiveUser{User: u.Name, Role: string(u.Role), LastLogin: u.LastLogin})
			}
		}
	}
}

// isInactive: never signed in, or last signed in before the cut-off. A
// lastLogin Tableau sends in a form tabflow cannot read is not inactive.
func isInactive(lastLogin string, before time.Time) bool {
	if lastLogin == "" {
		return true
	}
	t, err := time.Parse(time.RFC3339, lastLogin)
	return err == nil && t.Before(before)
}

// finish says what the plan found.
func (p *planner) finish() ReconcilePlan {
	var parts []string
	parts = append(parts, fmt.Sprintf("%s drifted from their grants", people(p.changes)))
	if p.changes > len(p.plan.Changes) {
		parts = append(parts, fmt.Sprintf("the first %d are listed: apply them and run again for the rest", len(p.plan.Changes)))
	}
	parts = append(parts, fmt.Sprintf("%s licensed without an entity (reported, never changed)", people(p.plan.Unmanaged.Count)))
	if p.inactiveBefore != nil {
		parts = append(parts, fmt.Sprintf("%s inactive since %s (reported, never changed)", people(p.inactive), p.inactiveBefore.Format(time.DateOnly)))
	}
	if missing := len(p.expected) - len(p.seen); missing > 0 {
		parts = append(parts, fmt.Sprintf("%s with an entity not on the site", people(missing)))
	}
	p.plan.Message = strings.Join(parts, "; ")
	return p.plan
}

func people(n int) string {
	if n == 1 {
		return "1 user"
	}
	return thousands(n) + " users"
}
