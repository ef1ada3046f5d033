package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"tabflow/activities"
	"tabflow/internal/words"
)

// Reconcile's plan (SPEC §3.2), in plain Go: Tableau's users against what
// the access entities' grants call for.

// ReconcilePlan is Reconcile's result, and its plan query's answer.
type ReconcilePlan struct {
	PlanID  string        `json:"planId"`
	Changes []DriftChange `json:"changes"`
	// Drifted counts every managed user whose role differs, listed or not:
	// what auto compares with maxChanges.
	Drifted   int            `json:"drifted"`
	Unmanaged UnmanagedUsers `json:"unmanaged"`
	Inactive  []InactiveUser `json:"inactive"`
	// Errors are entities that could not be asked for their grants: their
	// users are not compared (the first listed; the message counts them).
	Errors []string `json:"errors,omitempty"`
	// Applied counts the changes an entity carried out (outcome applied).
	Applied int `json:"applied"`
	// Failed names the changes an entity could not carry out, and why.
	Failed  []string `json:"failed,omitempty"`
	Message string   `json:"message"`
}

// DriftChange is a managed user whose Tableau role is not the one the grants
// call for. Warnings say what would undo a lower role (a group that licenses
// at sign-in or sync, an identity provider).
type DriftChange struct {
	User     string   `json:"user"`
	Expected string   `json:"expected"`
	Actual   string   `json:"actual"`
	Warnings []string `json:"warnings,omitempty"`
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
	maxListedChanges = 1000
	maxListedOthers  = 100 // unmanaged, inactive and errors, each
)

// ReconcileProgress is a plan being built, page by page; it travels to the
// next run when Reconcile continues as new. Everything in it is bounded.
type ReconcileProgress struct {
	Plan           ReconcilePlan `json:"plan"`
	InactiveBefore string        `json:"inactiveBefore,omitempty"`
	NextPage       int           `json:"nextPage"`
	Read           int           `json:"read"`
	Managed        int           `json:"managed"`
	InactiveCount  int           `json:"inactiveCount"`
	ErrorCount     int           `json:"errorCount"`
	Entities       int           `json:"entities"` // running entities when the plan began
}

func newProgress(planID string, entities int, now time.Time, inactiveDays int) *ReconcileProgress {
	p := &ReconcileProgress{NextPage: 1, Entities: entities,
		Plan: ReconcilePlan{PlanID: planID, Changes: []DriftChange{}, Unmanaged: UnmanagedUsers{Users: []UserRole{}}, Inactive: []InactiveUser{}}}
	if inactiveDays > 0 {
		p.InactiveBefore = now.AddDate(0, 0, -inactiveDays).Format(time.RFC3339)
	}
	return p
}

// next is the comparison of the next page: only as many users listed as
// the plan still shows.
func (p *ReconcileProgress) next(taskQueue string, pageSize int) activities.CompareUsersInput {
	return activities.CompareUsersInput{PageNumber: p.NextPage, PageSize: pageSize, IDPrefix: UserAccessWorkflowID(taskQueue, ""),
		RoleQuery: ExpectedQuery, InactiveBy: p.InactiveBefore, ListDrift: maxListedChanges - len(p.Plan.Changes),
		ListOthers: maxListedOthers - min(len(p.Plan.Unmanaged.Users), len(p.Plan.Inactive), len(p.Plan.Errors))}
}

// add takes one page compared; it says whether the site has more pages.
func (p *ReconcileProgress) add(c activities.UsersComparison, pageSize int) (more bool) {
	p.NextPage++
	p.Read += c.Read
	p.Managed += c.Managed
	p.Plan.Drifted += c.DriftCount
	p.Plan.Unmanaged.Count += c.UnmanagedCount
	p.InactiveCount += c.InactiveCount
	p.ErrorCount += c.ErrorCount
	for _, u := range c.Drift {
		if len(p.Plan.Changes) < maxListedChanges {
			p.Plan.Changes = append(p.Plan.Changes, driftChange(u))
		}
	}
	for _, u := range c.Unmanaged {
		if len(p.Plan.Unmanaged.Users) < maxListedOthers {
			p.Plan.Unmanaged.Users = append(p.Plan.Unmanaged.Users, UserRole{User: u.Name, Role: string(u.Role)})
		}
	}
	for _, u := range c.Inactive {
		if len(p.Plan.Inactive) < maxListedOthers {
			p.Plan.Inactive = append(p.Plan.Inactive, InactiveUser{User: u.Name, Role: string(u.Role), LastLogin: u.LastLogin})
		}
	}
	for _, e := range c.Errors {
		if len(p.Plan.Errors) < maxListedOthers {
			p.Plan.Errors = append(p.Plan.Errors, e)
		}
	}
	return c.Read == pageSize && p.Read < c.Total
}

// driftChange is a listed drift, with what would undo a lower role.
func driftChange(u activities.ComparedUser) DriftChange {
	c := DriftChange{User: u.Name, Expected: string(u.Expected), Actual: string(u.Role)}
	if lic := u.Licensing; lic != nil {
		var readErr error
		if lic.Error != "" {
			readErr = errors.New(lic.Error)
		}
		c.Warnings = licensingWarnings(&lic.User, lic.Groups, readErr, u.Expected)
	}
	return c
}

// finish says what the plan found.
func (p *ReconcileProgress) finish() ReconcilePlan {
	var parts []string
	parts = append(parts, fmt.Sprintf("%s drifted from their grants", people(p.Plan.Drifted)))
	if warned := len(slices.DeleteFunc(slices.Clone(p.Plan.Changes), func(c DriftChange) bool { return len(c.Warnings) == 0 })); warned > 0 {
		parts = append(parts, fmt.Sprintf("%s with warnings: a group or an identity provider may undo them (see each change)", words.Count(warned, "change")))
	}
	if p.Plan.Drifted > len(p.Plan.Changes) {
		parts = append(parts, fmt.Sprintf("the first %s are listed: apply them and run again for the rest", thousands(len(p.Plan.Changes))))
	}
	parts = append(parts, fmt.Sprintf("%s licensed without an entity (reported, never changed)", people(p.Plan.Unmanaged.Count)))
	if p.InactiveBefore != "" {
		parts = append(parts, fmt.Sprintf("%s inactive since %s (reported, never changed)", people(p.InactiveCount), p.InactiveBefore[:len(time.DateOnly)]))
	}
	if p.ErrorCount > 0 {
		parts = append(parts, fmt.Sprintf("%s not compared: their entities did not answer (see errors)", people(p.ErrorCount)))
	}
	if missing := p.Entities - p.Managed - p.ErrorCount; missing > 0 {
		parts = append(parts, fmt.Sprintf("%s with an entity not on the site", people(missing)))
	}
	p.Plan.Message = strings.Join(parts, "; ")
	return p.Plan
}

func people(n int) string {
	if n == 1 {
		return "1 user"
	}
	return thousands(n) + " users"
}
