package workflows

import (
	"encoding/json"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/tableau"
)

// reconcileComparePatch marks Reconcile runs that compare Tableau's users
// page by page, asking each user's entity (CompareUsers). A run started
// before it (main at 9fb2f57) may still be building its plan, or waiting
// for approval, when a new worker replays it: it keeps main's activities
// (every entity's grants through visibility, then the users' pages), whose
// answers feed the same bounded plan. workflows/testdata/reconcile-main.json
// replays through here.
const reconcileComparePatch = "reconcile-compare"

// buildPlanLegacy is main's plan building.
func buildPlanLegacy(ctx workflow.Context, inactiveDays int) (ReconcilePlan, error) {
	info := workflow.GetInfo(ctx)
	expected := map[string]tableau.SiteRole{}
	in := activities.ManagedUsersInput{TaskQueue: info.TaskQueueName, IDPrefix: UserAccessWorkflowID(info.TaskQueueName, ""), GrantsQuery: GrantsQuery}
	for {
		page, err := runRead[activities.ManagedUsersPage](ctx, a.ManagedUsers, in)
		if err != nil {
			return ReconcilePlan{}, err
		}
		for _, u := range page.Users {
			var grants []Grant
			if err := json.Unmarshal(u.Grants, &grants); err != nil {
				return ReconcilePlan{}, fmt.Errorf("the grants of %s: %w", u.User, err)
			}
			expected[u.User] = expectedRole(grants)
		}
		if in.NextPageToken = page.NextPageToken; len(in.NextPageToken) == 0 {
			break
		}
	}
	p := newProgress(info.WorkflowExecution.RunID, len(expected), workflow.Now(ctx), inactiveDays)
	for number, seen := 1, 0; number <= maxReconcilePages; number++ {
		page, err := runRead[activities.SiteUsersPage](ctx, a.SiteUsers, activities.ReconcileUsersInput{PageNumber: number, PageSize: reconcilePageSize})
		if err != nil {
			return ReconcilePlan{}, err
		}
		p.add(compareLegacy(page.Users, expected, p.InactiveBefore), reconcilePageSize)
		if seen += len(page.Users); len(page.Users) < reconcilePageSize || seen >= page.Total {
			break
		}
	}
	return p.finish(), nil
}

// compareLegacy compares one of main's pages as CompareUsers would.
func compareLegacy(users []activities.SiteUser, expected map[string]tableau.SiteRole, inactiveBefore string) activities.UsersComparison {
	c := activities.UsersComparison{Read: len(users)}
	for _, u := range users {
		want, managed := expected[strings.ToLower(u.Name)]
		switch {
		case !managed && u.Role != tableau.RoleUnlicensed:
			c.UnmanagedCount++
			c.Unmanaged = append(c.Unmanaged, activities.ComparedUser{Name: u.Name, Role: u.Role})
		case !managed:
		default:
			c.Managed++
			if want != u.Role {
				c.DriftCount++
				c.Drift = append(c.Drift, activities.ComparedUser{Name: u.Name, Role: u.Role, Expected: want})
			}
			if inactiveBefore != "" && activities.Inactive(u.LastLogin, inactiveBefore) {
				c.InactiveCount++
				c.Inactive = append(c.Inactive, activities.ComparedUser{Name: u.Name, Role: u.Role, LastLogin: u.LastLogin})
			}
		}
	}
	return c
}
