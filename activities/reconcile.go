package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"tabflow/internal/clip"
	"tabflow/tableau"
)

// The activities Reconcile and the revoke checks use: what Tableau says about
// a user's groups and content, and what the access entities hold (read
// through Temporal, so they need the worker's Temporal client).

// UserGroupsInput names a user by ID.
type UserGroupsInput struct {
	UserID string `json:"userId"`
}

// UserGroups lists the groups a user belongs to (Get Groups for a User).
func (a *Activities) UserGroups(ctx context.Context, in UserGroupsInput) ([]tableau.Group, error) {
	return inSession(ctx, a, AccessBudget, func(ctx context.Context, s *tableau.Session) ([]tableau.Group, error) {
		return s.UserGroups(ctx, in.UserID)
	})
}

// OwnedContentInput names a user by ID and name (data sources and flows are
// filtered by owner name).
type OwnedContentInput struct {
	UserID   string `json:"userId"`
	Name     string `json:"name"`
	FullName string `json:"fullName,omitempty"`
}

// OwnedContent is what a user owns in Tableau: counts and up to 10 names each.
type OwnedContent struct {
	Workbooks   tableau.Owned `json:"workbooks"`
	DataSources tableau.Owned `json:"dataSources"`
	Flows       tableau.Owned `json:"flows"`
}

// OwnedContent reads the three listings of what a user owns, in one session.
func (a *Activities) OwnedContent(ctx context.Context, in OwnedContentInput) (OwnedContent, error) {
	return inSession(ctx, a, AccessBudget, func(ctx context.Context, s *tableau.Session) (OwnedContent, error) {
		wb, ds, fl, err := s.OwnedContent(ctx, in.UserID, in.Name, in.FullName)
		return OwnedContent{Workbooks: wb, DataSources: ds, Flows: fl}, err
	})
}

// CompareUsersInput is one page of Tableau's users to compare with the
// access entities of a task queue, and how much of each list the plan still
// shows: what is past it is only counted, so a site of any size adds little
// to Reconcile's history.
type CompareUsersInput struct {
	PageNumber  int    `json:"pageNumber"`
	PageSize    int    `json:"pageSize"`
	IDPrefix    string `json:"idPrefix"`      // tableau-access/{task queue}/
	RoleQuery   string `json:"expectedQuery"` // the entity's query for the role its grants call for
	InactiveBy  string `json:"inactiveBefore,omitempty"`
	ListDrift   int    `json:"listDrift"`
	ListOthers  int    `json:"listOthers"` // unmanaged, inactive, errors: each
	Concurrency int    `json:"concurrency,omitempty"`
}

// ComparedUser is a user the plan lists.
type ComparedUser struct {
	Name      string           `json:"n"`
	Role      tableau.SiteRole `json:"r"`
	Expected  tableau.SiteRole `json:"e,omitempty"`
	LastLogin string           `json:"l,omitempty"`
	// For a change that lowers the role: what may undo it (SPEC §3.2).
	Licensing *Licensing `json:"lic,omitempty"`
}

// Licensing is what may license a user again after a lower role: the
// groups that license at sign-in or sync, and an identity provider.
type Licensing struct {
	User   tableau.User    `json:"user"`
	Groups []tableau.Group `json:"groups,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// UsersComparison is one page compared: the users listed, and counts.
type UsersComparison struct {
	Total          int            `json:"total"` // Tableau's totalAvailable
	Read           int            `json:"read"`
	Managed        int            `json:"managed"`
	Drift          []ComparedUser `json:"drift"`
	DriftCount     int            `json:"driftCount"`
	Unmanaged      []ComparedUser `json:"unmanaged"`
	UnmanagedCount int            `json:"unmanagedCount"`
	Inactive       []ComparedUser `json:"inactive"`
	InactiveCount  int            `json:"inactiveCount"`
	Errors         []string       `json:"errors,omitempty"`
	ErrorCount     int            `json:"errorCount"`
}

// CompareUsers reads one page of site users and asks each user's access
// entity (if there is one) for the role its grants call for. An entity that
// cannot answer is an error of the plan, not of the activity.
func (a *Activities) CompareUsers(ctx context.Context, in CompareUsersInput) (UsersComparison, error) {
	if a.Temporal == nil {
		return UsersComparison{}, temporal.NewNonRetryableApplicationError("this worker has no Temporal client for reading access entities", ErrInvalidInput, nil)
	}
	page, err := a.ListUsers(ctx, tableau.ListUsersOptions{PageNumber: in.PageNumber, PageSize: in.PageSize})
	if err != nil {
		return UsersComparison{}, err
	}
	defer heartbeat(ctx)()
	expected := make([]tableau.SiteRole, len(page.Users))
	failed := make([]error, len(page.Users))
	sem := make(chan struct{}, max(in.Concurrency, 16))
	var wg sync.WaitGroup
	for i, u := range page.Users {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			expected[i], failed[i] = a.expectedRole(ctx, in.IDPrefix+strings.ToLower(u.Name), in.RoleQuery)
		}()
	}
	wg.Wait()
	out := UsersComparison{Total: int(page.Pagination.TotalAvailable), Read: len(page.Users)}
	var lowered []int
	for i, u := range page.Users {
		c := ComparedUser{Name: u.Name, Role: u.SiteRole, Expected: expected[i], LastLogin: u.LastLogin}
		switch {
		case failed[i] != nil:
			out.ErrorCount++
			if len(out.Errors) < in.ListOthers {
				out.Errors = append(out.Errors, fmt.Sprintf("%s: could not ask its access entity for its grants: %s", clip.Text(u.Name, 100), clip.Text(RootMessage(failed[i]), 200)))
			}
			continue
		case expected[i] == "":
			if u.SiteRole != tableau.RoleUnlicensed {
				out.UnmanagedCount++
				if len(out.Unmanaged) < in.ListOthers {
					out.Unmanaged = append(out.Unmanaged, ComparedUser{Name: u.Name, Role: u.SiteRole})
				}
			}
			continue
		}
		out.Managed++
		if expected[i] != u.SiteRole {
			out.DriftCount++
			if len(out.Drift) < in.ListDrift {
				out.Drift = append(out.Drift, c)
				if tableau.RoleRank(expected[i]) < tableau.RoleRank(u.SiteRole) {
					lowered = append(lowered, len(out.Drift)-1)
				}
			}
		}
		if in.InactiveBy != "" && Inactive(u.LastLogin, in.InactiveBy) {
			out.InactiveCount++
			if len(out.Inactive) < in.ListOthers {
				out.Inactive = append(out.Inactive, ComparedUser{Name: u.Name, Role: u.SiteRole, LastLogin: u.LastLogin})
			}
		}
	}
	a.readLicensing(ctx, page.Users, out.Drift, lowered)
	return out, nil
}

// expectedRole asks an entity for the role its grants call for; "" when
// there is no such entity.
func (a *Activities) expectedRole(ctx context.Context, workflowID, query string) (tableau.SiteRole, error) {
	v, err := a.Temporal.QueryWorkflow(ctx, workflowID, "", query)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return "", nil // no entity, or one that ended
	}
	if err != nil {
		return "", err
	}
	var role tableau.SiteRole
	return role, v.Get(&role)
}

// readLicensing reads, in one session, the groups of each listed user whose
// role the plan would lower.
func (a *Activities) readLicensing(ctx context.Context, users []tableau.User, drift []ComparedUser, lowered []int) {
	if len(lowered) == 0 {
		return
	}
	byName := map[string]tableau.User{}
	for _, u := range users {
		byName[u.Name] = u
	}
	_ = a.Tableau.WithSession(withUrgency(ctx), AccessBudget, func(ctx context.Context, s *tableau.Session) error {
		for _, i := range lowered {
			u := byName[drift[i].Name]
			lic := &Licensing{User: tableau.User{ID: u.ID, Name: u.Name, SiteRole: u.SiteRole, IdpConfigurationID: u.IdpConfigurationID, AuthSetting: u.AuthSetting}}
			groups, err := s.UserGroups(ctx, u.ID)
			if err != nil {
				lic.Error = clip.Text(RootMessage(classify(ctx, err)), 200)
			}
			for _, g := range groups {
				if g.LicensingRole() != "" {
					lic.Groups = append(lic.Groups, g)
				}
			}
			drift[i].Licensing = lic
		}
		return nil
	})
}

// Inactive says a user never signed in, or last signed in before the
// cut-off (RFC 3339). A lastLogin Tableau sends in a form tabflow cannot
// read is not inactive.
func Inactive(lastLogin, before string) bool {
	cut, err := time.Parse(time.RFC3339, before)
	if err != nil {
		return false
	}
	if lastLogin == "" {
		return true
	}
	t, err := time.Parse(time.RFC3339, lastLogin)
	return err == nil && t.Before(cut)
}

// CountEntitiesInput names the task queue whose running entities to count,
// and their ID prefix (an entity with another site's ID is not this site's).
type CountEntitiesInput struct {
	TaskQueue string `json:"taskQueue"`
	IDPrefix  string `json:"idPrefix"`
}

// CountEntities counts the running access entities of a task queue
// (Temporal visibility), so a plan can say how many are not on the site.
func (a *Activities) CountEntities(ctx context.Context, in CountEntitiesInput) (int, error) {
	if a.Temporal == nil {
		return 0, temporal.NewNonRetryableApplicationError("this worker has no Temporal client for reading access entities", ErrInvalidInput, nil)
	}
	resp, err := a.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = 'UserAccess' AND ExecutionStatus = 'Running' AND TaskQueue = '%s' AND WorkflowId STARTS_WITH '%s'", in.TaskQueue, in.IDPrefix),
	})
	if err != nil {
		return 0, err
	}
	return int(resp.GetCount()), nil
}

// SendToEntityInput is an access event for one entity, as an update.
type SendToEntityInput struct {
	WorkflowID string          `json:"workflowId"`
	UpdateName string          `json:"updateName"`
	Event      json.RawMessage `json:"event"`
}

// SendToEntity sends an access update to a running entity and returns its
// record. A busy entity (continuing as new, updates in flight) is retried by
// Temporal like any transient failure.
func (a *Activities) SendToEntity(ctx context.Context, in SendToEntityInput) (json.RawMessage, error) {
	if a.Temporal == nil {
		return nil, temporal.NewNonRetryableApplicationError("this worker has no Temporal client for sending to access entities", ErrInvalidInput, nil)
	}
	defer heartbeat(ctx)()
	h, err := a.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: in.WorkflowID, UpdateName: in.UpdateName, Args: []any{in.Event}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var rec json.RawMessage
	if err == nil {
		err = h.Get(ctx, &rec)
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil, temporal.NewNonRetryableApplicationError(in.WorkflowID+" is not running (it ended since the plan was made): nothing to apply", ErrInvalidInput, err)
	}
	return rec, err
}
