package workflows

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/internal/clip"
	"tabflow/tableau"
)

// Limits on inputs that travel into workflow history.
const (
	maxPathLength  = 2048
	maxBodyBytes   = 256 << 10
	maxUsageItems  = 100
	maxQueryParams = 50
	maxTextLength  = 1024 // a filter, search terms, a query parameter
)

// filterPattern is Tableau's filter syntax: field:operator:value, joined by
// commas; an in-list is written [a,b].
var filterPattern = regexp.MustCompile(`^` + filterExpr + `(,` + filterExpr + `)*$`)

const filterExpr = `[A-Za-z]+:(eq|in|gt|gte|lt|lte|has|cieq):(\[[^\[\]]+\]|[^,\[\]]+)`

// runRead validates nothing; it runs one read activity with readActivity options.
func runRead[T any](ctx workflow.Context, activity any, args ...any) (*T, error) {
	return runWith[T](ctx, readActivity, activity, args...)
}

// runReadJSON runs a read activity whose result is Tableau's JSON as is.
func runReadJSON(ctx workflow.Context, activity any, args ...any) (json.RawMessage, error) {
	out, err := runRead[json.RawMessage](ctx, activity, args...)
	if err != nil {
		return nil, err
	}
	return *out, nil
}

// runWith runs one activity with opts.
func runWith[T any](ctx workflow.Context, opts workflow.ActivityOptions, activity any, args ...any) (*T, error) {
	ctx = workflow.WithActivityOptions(ctx, opts)
	var out T
	if err := workflow.ExecuteActivity(ctx, activity, args...).Get(ctx, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListUsersInput selects one page of site users:
// {"filter":"siteRole:eq:Viewer","pageNumber":2,"pageSize":1000}; {} is the
// first 100 users.
type ListUsersInput struct {
	Filter     string `json:"filter,omitempty"`
	PageNumber int    `json:"pageNumber,omitempty"` // from 1 (default 1)
	PageSize   int    `json:"pageSize,omitempty"`   // 1–1000 (default 100)
	inputProblems
}

// ListUsersResult is one page of users with Tableau's pagination
// (pageNumber, pageSize, totalAvailable): a result stays far below Temporal's
// payload limit on a site of any size. `starter users list` walks the pages.
type ListUsersResult = activities.ListUsersPage

// defaultUsersPageSize is Tableau's own default.
const defaultUsersPageSize = 100

// ListUsers returns one page of site users.
func ListUsers(ctx workflow.Context, in ListUsersInput) (*ListUsersResult, error) {
	p := problems(in.problems)
	if in.Filter != "" && p.checkText("filter", in.Filter) && !filterPattern.MatchString(in.Filter) {
		p.add("filter", "%q must be Tableau filter syntax field:operator:value, e.g. siteRole:eq:Viewer", clip.Text(in.Filter, 64))
	}
	if in.PageNumber < 0 {
		p.add("pageNumber", "must be 1 or more")
	}
	if in.PageSize < 0 || in.PageSize > tableau.MaxPageSize {
		p.add("pageSize", "must be between 1 and %d (Tableau's limit)", tableau.MaxPageSize)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	opts := tableau.ListUsersOptions{Filter: in.Filter, PageNumber: max(in.PageNumber, 1), PageSize: in.PageSize}
	if opts.PageSize == 0 {
		opts.PageSize = defaultUsersPageSize
	}
	res, err := runRead[ListUsersResult](ctx, a.ListUsers, opts)
	return shown(ctx, res, err, func(r *ListUsersResult) string {
		return fmt.Sprintf("ListUsers page %d: %d of %d users", opts.PageNumber, len(r.Users), r.Pagination.TotalAvailable)
	})
}

// GetUserInput names a user: {"user":"ana@example.com"} or {"id":"…"}.
type GetUserInput struct {
	User string `json:"user,omitempty"`
	ID   string `json:"id,omitempty"`
	inputProblems
}

// Validate checks the input as GetUser does before it calls Tableau.
func (in GetUserInput) Validate() error {
	p := problems(in.problems)
	switch {
	case in.User != "" && in.ID != "":
		p.add("user", "and id: give one, not both")
	case in.ID != "":
		if err := tableau.CheckLUID(in.ID); err != nil {
			p.add("id", "%s", err.Error())
		}
	default:
		p.checkUserName("user", in.User)
	}
	return p.err()
}

// GetUser returns one site user by name or ID.
func GetUser(ctx workflow.Context, in GetUserInput) (*tableau.User, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if in.ID != "" {
		u, err := runRead[tableau.User](ctx, a.GetUser, activities.GetUserInput{ID: in.ID})
		return shown(ctx, u, err, describeUser)
	}
	found, err := runRead[activities.FindUserResult](ctx, a.FindUser, activities.FindUserInput{Name: in.User})
	if err != nil {
		return nil, err
	}
	if found.User == nil {
		err := temporal.NewNonRetryableApplicationError(fmt.Sprintf("Tableau user %q was not found on this site", in.User), activities.ErrUserNotFound, nil)
		return shown(ctx, nil, err, describeUser)
	}
	return shown(ctx, found.User, nil, describeUser)
}

func describeUser(u *tableau.User) string { return fmt.Sprintf("%s: site role %s", u.Name, u.SiteRole) }

// EmptyInput is the input of workflows that take none: {}.
type EmptyInput struct {
	inputProblems
}

// ServerInfo reports the server's product and REST API versions.
func ServerInfo(ctx workflow.Context, in EmptyInput) (*tableau.ServerInfo, error) {
	if err := problems(in.problems).err(); err != nil {
		return nil, err
	}
	info, err := runRead[tableau.ServerInfo](ctx, a.ServerInfo)
	return shown(ctx, info, err, func(i *tableau.ServerInfo) string {
		return fmt.Sprintf("Tableau %s, REST API %s", i.ProductVersion, i.RESTAPIVersion)
	})
}

// CurrentSession reports the site and user the credentials open.
func CurrentSession(ctx workflow.Context, in EmptyInput) (*tableau.CurrentSession, error) {
	if err := problems(in.problems).err(); err != nil {
		return nil, err
	}
	cur, err := runRead[tableau.CurrentSession](ctx, a.CurrentSession)
	return shown(ctx, cur, err, func(c *tableau.CurrentSession) string {
		return fmt.Sprintf("site %q as %s (%s)", c.Site.ContentURL, c.User.Name, c.User.SiteRole)
	})
}

// ListCollectionsInput passes query parameters to /api/-/collections.
type ListCollectionsInput struct {
	Query map[string]string `json:"query,omitempty"`
	inputProblems
}

// ListCollections returns Tableau's collections JSON.
func ListCollections(ctx workflow.Context, in ListCollectionsInput) (json.RawMessage, error) {
	p := problems(in.problems)
	p.checkQuery("query", in.Query)
	if err := p.err(); err != nil {
		return nil, err
	}
	return runReadJSON(ctx, a.ListCollections, activities.ListCollectionsInput{Query: in.Query})
}

// SearchContentInput is a content search: {"terms":"sales","filter":"type:eq:workbook"}.
type SearchContentInput struct {
	Terms  string `json:"terms"`
	Page   int    `json:"page,omitempty"`
	Limit  int    `json:"limit,omitempty"`
	Filter string `json:"filter,omitempty"`
	inputProblems
}

// SearchContent runs /api/-/search.
func SearchContent(ctx workflow.Context, in SearchContentInput) (*tableau.SearchResult, error) {
	p := problems(in.problems)
	if in.Page < 0 {
		p.add("page", "must not be negative (pages count from 0)")
	}
	if in.Limit < 0 || in.Limit > 1000 {
		p.add("limit", "must be between 1 and 1000 (0 = Tableau's default)")
	}
	p.checkText("terms", in.Terms)
	p.checkText("filter", in.Filter)
	if err := p.err(); err != nil {
		return nil, err
	}
	res, err := runRead[tableau.SearchResult](ctx, a.SearchContent, tableau.SearchOptions{Terms: in.Terms, Page: in.Page, Limit: in.Limit, Filter: in.Filter})
	return shown(ctx, res, err, func(r *tableau.SearchResult) string {
		return fmt.Sprintf("%d of %d hits for %q", len(r.Items), r.Total, clip.Text(in.Terms, 64))
	})
}

// UsageStatsInput names content: {"type":"workbook","luid":"…"} or
// {"items":[{"type":"workbook","luid":"…"},…]}.
type UsageStatsInput struct {
	Type  string               `json:"type,omitempty"`
	LUID  string               `json:"luid,omitempty"`
	Items []tableau.ContentRef `json:"items,omitempty"`
	inputProblems
}

// UsageStats reads usage statistics for one or several items.
func UsageStats(ctx workflow.Context, in UsageStatsInput) (json.RawMessage, error) {
	p := problems(in.problems)
	items := in.Items
	if in.LUID != "" || in.Type != "" {
		items = append([]tableau.ContentRef{{LUID: in.LUID, Type: in.Type}}, items...)
	}
	if len(items) == 0 {
		p.add("items", "or type and luid are required")
	}
	if len(items) > maxUsageItems {
		p.add("items", "has %d entries; at most %d", len(items), maxUsageItems)
		items = items[:maxUsageItems]
	}
	for i, it := range items {
		if err := it.Check(); err != nil {
			p.add(fmt.Sprintf("items[%d]", i), "%s", err.Error())
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return runReadJSON(ctx, a.UsageStats, items)
}

// TableauRequestInput is any REST call:
// {"method":"GET","path":"sites/{site-id}/users","query":{…},"body":{…}}.
type TableauRequestInput struct {
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  map[string]string `json:"query,omitempty"`
	Body   json.RawMessage   `json:"body,omitempty"`
	// Retry lets a POST or PATCH be re-sent after a failure. Off by default:
	// such calls are not idempotent (an Add User whose answer was lost must
	// not run twice). GET, PUT and DELETE are always retried.
	Retry bool `json:"retry,omitempty"`
	inputProblems
}

// TableauRequestResult is the call's status and JSON body.
type TableauRequestResult = activities.RequestResult

var requestMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// TableauRequest makes any REST call the credentials allow. Paths are
// relative to /api/{version}/, or /api/-/ when they start with "-/";
// {site-id} and {user-id} are filled from the session.
func TableauRequest(ctx workflow.Context, in TableauRequestInput) (*TableauRequestResult, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	opts := readActivity
	if (in.Method == http.MethodPost || in.Method == http.MethodPatch) && !in.Retry {
		opts = sendOnceActivity
	}
	res, err := runWith[TableauRequestResult](ctx, opts, a.Request, activities.RequestInput{Method: in.Method, Path: in.Path, Query: in.Query, Body: in.Body})
	return shown(ctx, res, err, func(r *TableauRequestResult) string {
		return fmt.Sprintf("%s %s → %d", in.Method, clip.Text(in.Path, 200), r.Status)
	})
}

// Validate checks the input as TableauRequest does before it calls Tableau.
func (in TableauRequestInput) Validate() error {
	p := problems(in.problems)
	if !slices.Contains(requestMethods, in.Method) {
		p.add("method", "%q must be one of %s", clip.Text(in.Method, 64), strings.Join(requestMethods, ", "))
	}
	p.checkQuery("query", in.Query)
	if len(in.Path) > maxPathLength {
		p.add("path", "is %d characters long; at most %d", len(in.Path), maxPathLength)
	} else if err := tableau.CheckPath(in.Path); err != nil {
		p.add("path", "%s", err.Error())
	}
	if body := strings.TrimSpace(string(in.Body)); body != "" && body != "null" {
		switch {
		case len(in.Body) > maxBodyBytes:
			p.add("body", "is %d bytes; at most %d", len(in.Body), maxBodyBytes)
		case body[0] != '{' && body[0] != '[':
			p.add("body", "must be a JSON object or array, not %s", clip.Text(body, 40))
		case in.Method == http.MethodGet || in.Method == http.MethodDelete:
			p.add("body", "is not sent with %s", in.Method)
		}
	}
	return p.err()
}

// shown puts what a workflow found, or why it failed, in its current
// details (the Temporal UI shows them at a glance), and passes it through.
func shown[T any](ctx workflow.Context, res *T, err error, describe func(*T) string) (*T, error) {
	if err != nil {
		workflow.SetCurrentDetails(ctx, "failed: "+clip.Text(activities.RootMessage(err), 500))
		return nil, err
	}
	workflow.SetCurrentDetails(ctx, describe(res))
	return res, nil
}
