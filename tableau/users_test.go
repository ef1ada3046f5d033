package tableau_test

import (
	"context"
	"encoding/json"
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
	require.NoError(t, fake.Client(t, fake.PATConfig()).WithSession(t.Context(), func(ctx context.Context, s *tableau.Session) error {
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
		assert.True(t, tableau.IsNotFound(err))
		assert.Contains(t, err.Error(), "Tableau GET /api/3.24/sites/")
		assert.Contains(t, err.Error(), "failed (HTTP 404, 404002, Resource Not Found)")

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
	err := fake.Client(t, fake.ViewerPATConfig()).WithSession(t.Context(), func(ctx context.Context, s *tableau.Session) error {
		_, err := s.ListUsersPage(ctx, tableau.ListUsersOptions{PageSize: 1})
		return err
	})
	assert.True(t, tableau.IsPermissionDenied(err), "%v", err)
}

func TestListUsersPagesThroughEverything(t *testing.T) {
	fake := testsuite.StartTableau(t)
	fake.AddUsers(faketableau.SandboxSite, 2500, "Viewer")
	fake.ResetCounters()
	inSession(t, fake, func(ctx context.Context, s *tableau.Session) {
		users, err := s.ListUsers(ctx, "")
		require.NoError(t, err)
		assert.Len(t, users, 2507)
		seen := map[string]bool{}
		for _, u := range users {
			seen[u.ID] = true
		}
		assert.Len(t, seen, 2507, "no user twice")
	})
	assert.Equal(t, 3, fake.Count("users:list"), "three pages of 1000")
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
		users, err := s.ListUsers(ctx, "")
		remove()
		require.NoError(t, err)
		assert.Empty(t, users)
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
	info, err := c.ServerInfo(t.Context())
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
	err = old.Client(t, cfg).WithSession(t.Context(), func(ctx context.Context, s *tableau.Session) error {
		_, err := s.ListCollections(ctx, nil)
		return err
	})
	assert.True(t, tableau.IsNotFound(err), "servers before 3.28 have no collections: %v", err)
}
