package tableau_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/tableau"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
)

// inSession runs fn in an admin PAT session on a fresh fake.
func inSession(t *testing.T, fake *testsuite.Tableau, fn func(ctx context.Context, s *tableau.Session)) {
	t.Helper()
	require.NoError(t, fake.Client(t, fake.PATConfig()).WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
		fn(ctx, s)
		return nil
	}))
}

func TestFindUpdateAndGetUser(t *testing.T) {
	fake := testsuite.StartTableau(t)
	inSession(t, fake, func(ctx context.Context, s *tableau.Session) {
		u, err := s.FindUserByName(ctx, "Ana@Example.com")
		require.NoError(t, err)
		assert.Equal(t, "ana@example.com", u.Name)
		assert.Equal(t, tableau.RoleUnlicensed, u.SiteRole)
		assert.Equal(t, "Ana Lima", u.FullName)

		updated, err := s.UpdateSiteRole(ctx, u.ID, tableau.RoleExplorer)
		require.NoError(t, err)
		assert.Equal(t, u.ID, updated.ID, "the ID is kept though Tableau's answer omits it")
		assert.Equal(t, tableau.RoleExplorer, updated.SiteRole)
		assert.Equal(t, "Explorer", fake.Role(faketableau.SandboxSite, "ana@example.com"))

		got, err := s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		assert.Equal(t, tableau.RoleExplorer, got.SiteRole)

		never, err := s.FindUserByName(ctx, "newhire@example.com")
		require.NoError(t, err)
		assert.Empty(t, never.LastLogin, "absent for a user who never signed in")
	})
}

func TestUserErrors(t *testing.T) {
	fake := testsuite.StartTableau(t)
	inSession(t, fake, func(ctx context.Context, s *tableau.Session) {
		_, err := s.FindUserByName(ctx, "nobody@example.com")
		var nf *tableau.UserNotFoundError
		require.ErrorAs(t, err, &nf, "an empty \"users\":{} means no such user")
		assert.True(t, tableau.IsNotFound(err))

		_, err = s.GetUser(ctx, "00000000-0000-0000-0000-000000000000")
		var apiErr *tableau.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "404002", apiErr.Code)
		assert.True(t, tableau.IsUserNotFound(err))

		assert.Contains(t, err.Error(), "Tableau GET /api/3.24/sites/")
		assert.Contains(t, err.Error(), "failed (HTTP 404, 404002, Resource Not Found)")

		remove := fake.Inject(faketableau.Fault{PathContains: "/users", Status: 404, Body: `{"error":{"code":"404000","summary":"Not Found","detail":"Site not found"}}`})
		_, err = s.FindUserByName(ctx, "ana@example.com")
		remove()
		assert.True(t, tableau.IsNotFound(err))
		assert.False(t, tableau.IsUserNotFound(err), "404000 is the site, not the user: %v", err)
		remove = fake.Inject(faketableau.Fault{PathContains: "/users/", Status: 404, Body: `<html>Not Found</html>`})
		_, err = s.GetUser(ctx, "00000000-0000-0000-0000-000000000000")
		remove()
		assert.False(t, tableau.IsUserNotFound(err), "a proxy's 404 page is not Tableau's answer: %v", err)
		remove = fake.Inject(faketableau.Fault{PathContains: "/users/", Status: 404, Body: `{"error":{"code":"404008","summary":"Resource Not Found","detail":"Endpoint not in this API version"}}`})
		_, err = s.GetUser(ctx, "00000000-0000-0000-0000-000000000000")
		remove()
		assert.False(t, tableau.IsUserNotFound(err), "only 404002 means no such user: %v", err)

		ana, err := s.FindUserByName(ctx, "ana@example.com")
		require.NoError(t, err)
		_, err = s.UpdateSiteRole(ctx, ana.ID, "Publisher")
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "400013", apiErr.Code)

		_, err = s.ListUsersPage(ctx, tableau.ListUsersOptions{PageSize: 1001})
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "403014", apiErr.Code)
		assert.False(t, tableau.IsPermissionDenied(err), "a page size error is not a permission problem")
	})
}

func TestNonAdminCannotListUsers(t *testing.T) {
	fake := testsuite.StartTableau(t)
	err := fake.Client(t, fake.ViewerPATConfig()).WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
		_, err := s.ListUsersPage(ctx, tableau.ListUsersOptions{PageSize: 1})
		return err
	})
	assert.True(t, tableau.IsPermissionDenied(err), "%v", err)
}

func TestWalkUsersPagesThroughEverything(t *testing.T) {
	fake := testsuite.StartTableau(t)
	fake.AddUsers(faketableau.SandboxSite, 2500, "Viewer")
	fake.ResetCounters()
	seen := map[string]bool{}
	inSession(t, fake, func(ctx context.Context, s *tableau.Session) {
		fetch := func(ctx context.Context, page int) (*tableau.UsersPage, error) {
			return s.ListUsersPage(ctx, tableau.ListUsersOptions{PageSize: 1000, PageNumber: page})
		}
		require.NoError(t, tableau.WalkUsers(ctx, 1000, fetch, func(users []tableau.User) error {
			for _, u := range users {
				assert.False(t, seen[u.ID], "user %s listed twice", u.Name)
				seen[u.ID] = true
			}
			return nil
		}))
	})
	assert.Len(t, seen, 2507)
	assert.Equal(t, 3, fake.Count("users:list"), "three pages of 1000")
}

func TestWalkUsersStopsARunawayListing(t *testing.T) {
	full := func(page int) []tableau.User {
		users := make([]tableau.User, 10)
		for i := range users {
			users[i] = tableau.User{ID: fmt.Sprintf("p%d-u%d", page, i)}
		}
		return users
	}
	cases := []struct {
		name    string
		total   int
		samePgs bool
		want    string
		calls   int
	}{
		{"the same page again and again", 1_000_000, true, "identical to page 1", 2},
		{"an absurd total", 1 << 40, false, "more than tabflow lists", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			fetch := func(_ context.Context, page int) (*tableau.UsersPage, error) {
				calls++
				if c.samePgs {
					page = 1
				}
				return &tableau.UsersPage{Pagination: tableau.Pagination{TotalAvailable: tableau.FlexInt(c.total)}, Users: full(page)}, nil
			}
			err := tableau.WalkUsers(testsuite.Context(t), 10, fetch, func([]tableau.User) error { return nil })
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.Equal(t, c.calls, calls, "requests made before stopping")
		})
	}
	t.Run("later pages cannot raise the first page's total", func(t *testing.T) {
		calls, listed := 0, 0
		fetch := func(_ context.Context, page int) (*tableau.UsersPage, error) {
			calls++
			return &tableau.UsersPage{Pagination: tableau.Pagination{TotalAvailable: tableau.FlexInt(25 * page * page)}, Users: full(page)}, nil
		}
		require.NoError(t, tableau.WalkUsers(testsuite.Context(t), 10, fetch, func(u []tableau.User) error { listed += len(u); return nil }))
		assert.Equal(t, 3, calls, "ceil(25/10) pages")
		assert.Equal(t, 30, listed)
	})
	t.Run("a short page ends the listing", func(t *testing.T) {
		calls := 0
		fetch := func(_ context.Context, page int) (*tableau.UsersPage, error) {
			calls++
			return &tableau.UsersPage{Pagination: tableau.Pagination{TotalAvailable: 1000}, Users: full(page)[:9]}, nil
		}
		require.NoError(t, tableau.WalkUsers(testsuite.Context(t), 10, fetch, func([]tableau.User) error { return nil }))
		assert.Equal(t, 1, calls)
	})
}

func TestDecodingQuirks(t *testing.T) {
	fake := testsuite.StartTableau(t)
	inSession(t, fake, func(ctx context.Context, s *tableau.Session) {
		page, err := s.ListUsersPage(ctx, tableau.ListUsersOptions{PageSize: 2})
		require.NoError(t, err)
		assert.Equal(t, tableau.Pagination{PageNumber: 1, PageSize: 2, TotalAvailable: 7}, page.Pagination, "string numbers decoded")

		remove := fake.Inject(faketableau.Fault{PathContains: "/users", Status: 200,
			Body: `{"pagination":{"pageNumber":"1","pageSize":"1000","totalAvailable":"1"},"users":{"user":{"id":"u1","name":"solo@example.com","siteRole":"Viewer"}}}`})
		u, err := s.FindUserByName(ctx, "solo@example.com")
		remove()
		require.NoError(t, err, "a single user sent as an object")
		assert.Equal(t, "u1", u.ID)

		remove = fake.Inject(faketableau.Fault{PathContains: "/users", Status: 200,
			Body: `{"pagination":{"pageNumber":1,"pageSize":1000,"totalAvailable":0},"users":{}}`})
		page, err = s.ListUsersPage(ctx, tableau.ListUsersOptions{})
		remove()
		require.NoError(t, err)
		assert.Empty(t, page.Users, `"users":{} is no users`)

		remove = fake.Inject(faketableau.Fault{PathContains: "/users", Status: 200,
			Body: `{"pagination":{"pageNumber":"1","pageSize":"100","totalAvailable":"2"},"users":[{"id":"u1","name":"a@example.com"},{"id":"u2","name":"b@example.com"}]}`})
		page, err = s.ListUsersPage(ctx, tableau.ListUsersOptions{})
		remove()
		require.NoError(t, err, "users as a bare array")
		require.Len(t, page.Users, 2)
		assert.Equal(t, "u2", page.Users[1].ID)
	})
}

func TestErrorBodiesAndRetryAfter(t *testing.T) {
	fake := testsuite.StartTableau(t)
	inSession(t, fake, func(ctx context.Context, s *tableau.Session) {
		remove := fake.Inject(faketableau.RateLimited(7 * time.Second))
		_, err := s.CurrentSession(ctx)
		remove()
		assert.True(t, tableau.IsRateLimited(err))
		d, ok := tableau.RetryAfter(err)
		assert.True(t, ok)
		assert.Equal(t, 7*time.Second, d)

		date := time.Now().Add(42 * time.Second).UTC().Format(http.TimeFormat)
		remove = fake.Inject(faketableau.Fault{Status: 429, Header: http.Header{"Retry-After": {date}}, Body: "slow down"})
		_, err = s.CurrentSession(ctx)
		remove()
		d, ok = tableau.RetryAfter(err)
		assert.True(t, ok)
		assert.InDelta(t, 42, d.Seconds(), 2)

		remove = fake.Inject(faketableau.HTMLUnavailable())
		_, err = s.CurrentSession(ctx)
		remove()
		assert.True(t, tableau.IsServerError(err))
		assert.Contains(t, err.Error(), "HTTP 503")
		assert.Contains(t, err.Error(), "Service Temporarily Unavailable")

		remove = fake.Inject(faketableau.Fault{Status: 500, Body: `{"error":{"code":"0x1F4","summary":"Odd","detail":"hex code"}}`})
		_, err = s.CurrentSession(ctx)
		remove()
		var apiErr *tableau.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "0x1F4", apiErr.Code, "codes are strings, even hex")

		remove = fake.Inject(faketableau.Fault{Reset: true}) // every attempt: Go retries a GET once on a reused connection
		_, err = s.CurrentSession(ctx)
		remove()
		assert.True(t, tableau.IsUnreachable(err), "%v", err)
	})
}

func TestDoAnyCall(t *testing.T) {
	fake := testsuite.StartTableau(t)
	fake.ResetCounters()
	inSession(t, fake, func(ctx context.Context, s *tableau.Session) {
		var body json.RawMessage
		resp, err := s.Do(ctx, http.MethodGet, "sites/{site-id}/users/{user-id}", nil, nil, &body)
		require.NoError(t, err)
		assert.Equal(t, 200, resp.StatusCode)
		assert.Contains(t, string(body), `"name":"admin@example.com"`)

		var hits json.RawMessage
		_, err = s.Do(ctx, http.MethodGet, "-/search", url.Values{"terms": {"sales"}}, nil, &hits)
		require.NoError(t, err)
		assert.Contains(t, string(hits), "Sales Overview")

		for _, bad := range []string{"", "https://evil.com/api", "//evil.com", "sites/../../etc", "sites/%2e%2e/x", "/api/3.24/sites", "users?x=1"} {
			_, err := s.Do(ctx, http.MethodGet, bad, nil, nil, nil)
			assert.ErrorContains(t, err, "path ", bad)
		}
	})
	reqs := fake.Requests()
	assert.Equal(t, "/api/3.24/sites/"+fake.SiteID("sandbox")+"/users/"+reqs[1].Path[len(reqs[1].Path)-36:], reqs[1].Path)
	assert.Equal(t, "/api/-/search", reqs[2].Path)
	assert.Len(t, reqs, 4, "bad paths never reach Tableau")
}

func TestContentCalls(t *testing.T) {
	fake := testsuite.StartTableau(t)
	c := fake.Client(t, fake.PATConfig())
	info, err := c.ServerInfo(testsuite.Context(t))
	require.NoError(t, err)
	assert.Equal(t, "2025.3.0", info.ProductVersion)
	assert.Equal(t, "3.28", info.RESTAPIVersion)

	inSession(t, fake, func(ctx context.Context, s *tableau.Session) {
		res, err := s.SearchContent(ctx, tableau.SearchOptions{Terms: "sales", Filter: "type:eq:workbook", Limit: 1})
		require.NoError(t, err)
		assert.EqualValues(t, 2, res.Total)
		require.Len(t, res.Items, 1)
		assert.NotEmpty(t, res.Next)
		ref := tableau.ContentRef{LUID: res.Items[0].Content["luid"].(string), Type: "workbook"}

		stats, err := s.UsageStats(ctx, ref)
		require.NoError(t, err)
		assert.Contains(t, string(stats), `"hitsTotal"`)

		batch, err := s.UsageStatsBatch(ctx, []tableau.ContentRef{ref, {LUID: "missing", Type: "view"}})
		require.NoError(t, err)
		assert.Contains(t, string(batch), `"unknown"`)

		cols, err := s.ListCollections(ctx, nil)
		require.NoError(t, err)
		assert.True(t, json.Valid(cols))
	})

	old := testsuite.StartTableau(t, faketableau.WithAPIVersion("3.25"))
	cfg := old.PATConfig()
	err = old.Client(t, cfg).WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
		_, err := s.ListCollections(ctx, nil)
		return err
	})
	assert.True(t, tableau.IsNotFound(err), "servers before 3.28 have no collections: %v", err)
}

// ListUsersOptions is the ListUsers activity's input: its history shows the
// JSON names SPEC uses, and an input scheduled before they had tags (Go's
// field names) still decodes.
func TestListUsersOptionsJSON(t *testing.T) {
	b, err := json.Marshal(tableau.ListUsersOptions{Filter: "name:eq:ana@example.com", PageSize: 10})
	require.NoError(t, err)
	assert.JSONEq(t, `{"filter":"name:eq:ana@example.com","pageSize":10}`, string(b))
	var old tableau.ListUsersOptions
	require.NoError(t, json.Unmarshal([]byte(`{"Filter":"siteRole:eq:Viewer","PageSize":5,"PageNumber":2}`), &old))
	assert.Equal(t, tableau.ListUsersOptions{Filter: "siteRole:eq:Viewer", PageSize: 5, PageNumber: 2}, old)
}
