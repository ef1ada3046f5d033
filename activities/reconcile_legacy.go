package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"

	"tabflow/tableau"
)

// The activities Reconcile used before it compared Tableau's users page by
// page (main at 9fb2f57): kept registered, unchanged, for runs started then
// (workflows/reconcile_legacy.go), which replay and finish with them.

// ReconcileUsersInput is one page of Tableau's users to compare.
type ReconcileUsersInput struct {
	PageNumber int `json:"pageNumber"`
	PageSize   int `json:"pageSize"`
}

// SiteUser is the little of a Tableau user that Reconcile compares.
type SiteUser struct {
	Name      string           `json:"n"`
	Role      tableau.SiteRole `json:"r"`
	LastLogin string           `json:"l,omitempty"`
}

// SiteUsersPage is one page of users, kept small: a site of 100,000 users
// adds a few MB to Reconcile's history, not tens.
type SiteUsersPage struct {
	Users []SiteUser `json:"users"`
	Total int        `json:"total"`
}

// SiteUsers reads one page of site users for Reconcile.
func (a *Activities) SiteUsers(ctx context.Context, in ReconcileUsersInput) (SiteUsersPage, error) {
	page, err := a.ListUsers(ctx, tableau.ListUsersOptions{PageNumber: in.PageNumber, PageSize: in.PageSize})
	if err != nil {
		return SiteUsersPage{}, err
	}
	out := SiteUsersPage{Total: int(page.Pagination.TotalAvailable), Users: make([]SiteUser, len(page.Users))}
	for i, u := range page.Users {
		out.Users[i] = SiteUser{Name: u.Name, Role: u.SiteRole, LastLogin: u.LastLogin}
	}
	return out, nil
}

// ManagedUsersInput asks for one page of the running access entities of a
// task queue.
type ManagedUsersInput struct {
	TaskQueue     string `json:"taskQueue"`
	IDPrefix      string `json:"idPrefix"`    // tableau-access/{task queue}/
	GrantsQuery   string `json:"grantsQuery"` // the entity's grants query
	NextPageToken []byte `json:"nextPageToken,omitempty"`
}

// ManagedUser is one entity and the grants it holds (its grants query's answer).
type ManagedUser struct {
	User   string          `json:"user"`
	Grants json.RawMessage `json:"grants"`
}

// ManagedUsersPage is one page of entities.
type ManagedUsersPage struct {
	Users         []ManagedUser `json:"users"`
	NextPageToken []byte        `json:"nextPageToken,omitempty"`
}

// ManagedUsers lists running access entities through Temporal visibility and
// asks each for its grants.
func (a *Activities) ManagedUsers(ctx context.Context, in ManagedUsersInput) (ManagedUsersPage, error) {
	if a.Temporal == nil {
		return ManagedUsersPage{}, temporal.NewNonRetryableApplicationError("this worker has no Temporal client for reading access entities", ErrInvalidInput, nil)
	}
	defer heartbeat(ctx)()
	resp, err := a.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		PageSize:      500,
		NextPageToken: in.NextPageToken,
		Query:         fmt.Sprintf("WorkflowType = 'UserAccess' AND ExecutionStatus = 'Running' AND TaskQueue = '%s'", in.TaskQueue),
	})
	if err != nil {
		return ManagedUsersPage{}, err
	}
	out := ManagedUsersPage{NextPageToken: resp.NextPageToken, Users: []ManagedUser{}}
	for _, ex := range resp.Executions {
		id := ex.GetExecution().GetWorkflowId()
		user, ok := strings.CutPrefix(id, in.IDPrefix)
		if !ok {
			continue // a legacy entity, or another site's
		}
		v, err := a.Temporal.QueryWorkflow(ctx, id, "", in.GrantsQuery)
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			continue // it ended since it was listed
		}
		if err != nil {
			return ManagedUsersPage{}, fmt.Errorf("asking %s for its grants: %w", id, err)
		}
		var grants json.RawMessage
		if err := v.Get(&grants); err != nil {
			return ManagedUsersPage{}, err
		}
		out.Users = append(out.Users, ManagedUser{User: user, Grants: grants})
	}
	return out, nil
}
