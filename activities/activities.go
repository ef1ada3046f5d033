// Package activities holds tabflow's Temporal activities. Each one opens its
// own Tableau session (sign in, its REST call, sign out), so no session
// outlives an activity and every activity is safe to retry. Credentials come
// from the worker's configuration, never from activity input.
package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"tabflow/internal/every"
	"tabflow/tableau"
)

// Activities are registered once per worker; they share one Tableau client.
type Activities struct {
	Tableau *tableau.Client
	// Health, if set, is told each health check's outcome (metrics).
	Health HealthObserver
	// Temporal is the worker's own client: Reconcile reads the access
	// entities and sends them events through it.
	Temporal client.Client
}

// HealthObserver is told the outcome of each health check activity and the
// PAT's remaining lifetime, as the worker's metrics show them.
type HealthObserver interface {
	HealthCheck(check string, ok bool)
	PATExpiresIn(d time.Duration)
}

// New returns the activities for one Tableau connection.
func New(client *tableau.Client) *Activities { return &Activities{Tableau: client} }

// heartbeatEvery is how often a running activity tells Temporal it is alive,
// so that a worker that dies mid-call is noticed within the activity's
// HeartbeatTimeout, not its StartToCloseTimeout.
const heartbeatEvery = time.Second

// Call budgets: how long an activity's REST calls (sign-in, the call, any
// pages) may take, counted from the moment its session may start. Waiting for
// a PAT's previous session to end is not part of it, so a check does not say
// "cannot connect" because a long listing holds the PAT; the activity
// heartbeats while it waits, and its StartToClose leaves room for the wait.
const (
	CheckBudget  = 10 * time.Second // a health check: a person is waiting
	AccessBudget = 2 * time.Minute  // a look-up or a role change
	ReadBudget   = 5 * time.Minute  // browsing and raw calls
)

// inSession runs fn in a fresh Tableau session within budget, heartbeating
// while it runs (waiting for the PAT's previous session included), and
// classifies its error.
func inSession[T any](ctx context.Context, a *Activities, budget time.Duration, fn func(ctx context.Context, s *tableau.Session) (T, error)) (T, error) {
	defer heartbeat(ctx)()
	var out T
	err := a.Tableau.WithSession(withUrgency(ctx), budget, func(ctx context.Context, s *tableau.Session) error {
		var err error
		out, err = fn(ctx, s)
		return err
	})
	if err != nil {
		var zero T
		return zero, classify(ctx, err)
	}
	return out, nil
}

// withUrgency carries the activity's Temporal Priority to its session: the
// order in which this worker's sessions take the PAT is the order Temporal
// gave their tasks (SPEC §3.3).
func withUrgency(ctx context.Context) context.Context {
	if !activity.IsActivity(ctx) {
		return ctx
	}
	return tableau.WithUrgency(ctx, activity.GetInfo(ctx).Priority.PriorityKey)
}

// heartbeat records heartbeats until the returned stop is called.
func heartbeat(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	return every.Tick(ctx, heartbeatEvery, func() bool {
		activity.RecordHeartbeat(ctx)
		return true
	})
}

// FindUserInput names a user (on Tableau Cloud, the e-mail address).
type FindUserInput struct {
	Name string `json:"name"`
}

// FindUserResult has User nil when no such user exists: whether that is an
// error is the workflow's decision. ReadAt is when Tableau answered.
type FindUserResult struct {
	User   *tableau.User `json:"user"`
	ReadAt time.Time     `json:"readAt,omitzero"`
}

// FindUser looks a user up by name.
func (a *Activities) FindUser(ctx context.Context, in FindUserInput) (FindUserResult, error) {
	return inSession(ctx, a, AccessBudget, func(ctx context.Context, s *tableau.Session) (FindUserResult, error) {
		u, err := s.FindUserByName(ctx, in.Name)
		if tableau.IsUserNotFound(err) {
			return FindUserResult{ReadAt: time.Now()}, nil
		}
		return FindUserResult{User: u, ReadAt: time.Now()}, err
	})
}

// GetUserInput names a user by ID.
type GetUserInput struct {
	ID string `json:"id"`
}

// GetUser fetches a user by ID; an unknown ID is UserNotFound.
func (a *Activities) GetUser(ctx context.Context, in GetUserInput) (*tableau.User, error) {
	return inSession(ctx, a, ReadBudget, func(ctx context.Context, s *tableau.Session) (*tableau.User, error) {
		return s.GetUser(ctx, in.ID)
	})
}

// SetSiteRoleInput changes one user's site role, by ID. BasedOn is the role
// the decision to change it was taken on, read at ReadAt: the update is a
// compare-and-set (SPEC §3.1).
type SetSiteRoleInput struct {
	UserID  string           `json:"userId"`
	Role    tableau.SiteRole `json:"role"`
	BasedOn tableau.SiteRole `json:"basedOn,omitempty"`
	ReadAt  time.Time        `json:"readAt,omitzero"`
}

// freshRead is how old a look-up may be for an update's first attempt to
// trust it; an older one (the update waited for the PAT, or for a worker) is
// read again in the update's own session.
const freshRead = 2 * time.Second

// SetSiteRole updates the role, only if Tableau still shows BasedOn. A retry
// (the last attempt's answer may have been lost after Tableau applied it),
// or a first attempt whose look-up is no longer fresh, reads the user first:
// a user already at the role gets no second update, so Tableau's own record
// shows each change once, and a user whose role changed outside tabflow
// meanwhile gets none either (ErrRoleChanged, carrying the user as Tableau
// shows them now, so the workflow decides again).
func (a *Activities) SetSiteRole(ctx context.Context, in SetSiteRoleInput) (*tableau.User, error) {
	if _, err := tableau.ParseSettableRole(string(in.Role)); err != nil {
		return nil, invalidInput("role " + err.Error())
	}
	reread := activity.GetInfo(ctx).Attempt > 1
	return inSession(ctx, a, AccessBudget, func(ctx context.Context, s *tableau.Session) (*tableau.User, error) {
		if reread || (in.BasedOn != "" && time.Since(in.ReadAt) > freshRead) {
			u, err := s.GetUser(ctx, in.UserID)
			if err != nil || u.SiteRole == in.Role {
				return u, err
			}
			if in.BasedOn != "" && u.SiteRole != in.BasedOn {
				return nil, roleChanged(u, in.BasedOn)
			}
		}
		return s.UpdateSiteRole(ctx, in.UserID, in.Role)
	})
}

// roleChanged says a role moved under a decision; its details are the user now.
func roleChanged(now *tableau.User, basedOn tableau.SiteRole) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
		"Tableau shows site role %s, not the %s the decision was taken on (changed outside tabflow): nothing written", now.SiteRole, basedOn),
		ErrRoleChanged, nil, *now)
}

// ListUsersPage is one page of site users (SPEC §3: a result stays far below
// Temporal's payload limit whatever the site's size; callers walk the pages).
type ListUsersPage struct {
	Pagination tableau.Pagination `json:"pagination"`
	Users      []tableau.User     `json:"users"`
}

// ListUsers reads one page of matching users.
func (a *Activities) ListUsers(ctx context.Context, in tableau.ListUsersOptions) (ListUsersPage, error) {
	return inSession(ctx, a, ReadBudget, func(ctx context.Context, s *tableau.Session) (ListUsersPage, error) {
		p, err := s.ListUsersPage(ctx, in)
		if err != nil {
			return ListUsersPage{}, err
		}
		if p.Users == nil {
			p.Users = []tableau.User{} // "users": [] reads better than null
		}
		return ListUsersPage{Pagination: p.Pagination, Users: p.Users}, nil
	})
}

// ServerInfo reads the server's product and REST API versions (no sign-in).
func (a *Activities) ServerInfo(ctx context.Context) (*tableau.ServerInfo, error) {
	defer heartbeat(ctx)()
	ctx, cancel := context.WithTimeout(ctx, ReadBudget)
	defer cancel()
	info, err := a.Tableau.ServerInfo(ctx)
	return info, classify(ctx, err)
}

// CurrentSession tells which site and user the credentials open.
func (a *Activities) CurrentSession(ctx context.Context) (*tableau.CurrentSession, error) {
	return inSession(ctx, a, ReadBudget, func(ctx context.Context, s *tableau.Session) (*tableau.CurrentSession, error) {
		return s.CurrentSession(ctx)
	})
}

// ListCollectionsInput passes query parameters through to Tableau.
type ListCollectionsInput struct {
	Query map[string]string `json:"query,omitempty"`
}

// ListCollections returns Tableau's collections JSON as it came.
func (a *Activities) ListCollections(ctx context.Context, in ListCollectionsInput) (json.RawMessage, error) {
	return inSession(ctx, a, ReadBudget, func(ctx context.Context, s *tableau.Session) (json.RawMessage, error) {
		return s.ListCollections(ctx, toValues(in.Query))
	})
}

// SearchContent runs a content search.
func (a *Activities) SearchContent(ctx context.Context, in tableau.SearchOptions) (*tableau.SearchResult, error) {
	return inSession(ctx, a, ReadBudget, func(ctx context.Context, s *tableau.Session) (*tableau.SearchResult, error) {
		return s.SearchContent(ctx, in)
	})
}

// UsageStats reads usage statistics: one item with the single call, several
// with the batch call.
func (a *Activities) UsageStats(ctx context.Context, items []tableau.ContentRef) (json.RawMessage, error) {
	return inSession(ctx, a, ReadBudget, func(ctx context.Context, s *tableau.Session) (json.RawMessage, error) {
		if len(items) == 1 {
			return s.UsageStats(ctx, items[0])
		}
		return s.UsageStatsBatch(ctx, items)
	})
}

// RequestInput is any REST call (see tableau.Session.Do for path rules).
type RequestInput struct {
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  map[string]string `json:"query,omitempty"`
	Body   json.RawMessage   `json:"body,omitempty"`
}

// RequestResult is the call's status and JSON body.
type RequestResult struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// Request makes any REST call the credentials allow.
func (a *Activities) Request(ctx context.Context, in RequestInput) (RequestResult, error) {
	if err := tableau.CheckPath(in.Path); err != nil {
		return RequestResult{}, invalidInput("path " + err.Error())
	}
	return inSession(ctx, a, ReadBudget, func(ctx context.Context, s *tableau.Session) (RequestResult, error) {
		var reqBody any // nil, not an empty RawMessage, when there is no body
		if len(in.Body) > 0 {
			reqBody = in.Body
		}
		var body json.RawMessage
		resp, err := s.Do(ctx, in.Method, in.Path, toValues(in.Query), reqBody, &body)
		if err != nil {
			return RequestResult{}, err
		}
		return RequestResult{Status: resp.StatusCode, Body: body}, nil
	})
}

func toValues(m map[string]string) url.Values {
	if len(m) == 0 {
		return nil
	}
	v := url.Values{}
	for k, val := range m {
		v.Set(k, val)
	}
	return v
}
