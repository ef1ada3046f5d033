package activities_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	sdktestsuite "go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/tableau"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
)

func activityEnv(t *testing.T, fake *testsuite.Tableau, cfg tableau.Config) *sdktestsuite.TestActivityEnvironment {
	var s sdktestsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(activities.New(fake.Client(t, cfg)))
	return env
}

func appErr(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "want an application error, got %v", err)
	return ae
}

func TestActivitiesHappyPaths(t *testing.T) {
	fake := testsuite.StartTableau(t)
	env := activityEnv(t, fake, fake.PATConfig())
	acts := &activities.Activities{}

	v, err := env.ExecuteActivity(acts.FindUser, activities.FindUserInput{Name: "ben@example.com"})
	require.NoError(t, err)
	var found activities.FindUserResult
	require.NoError(t, v.Get(&found))
	require.NotNil(t, found.User)
	assert.Equal(t, tableau.RoleViewer, found.User.SiteRole)

	v, err = env.ExecuteActivity(acts.FindUser, activities.FindUserInput{Name: "ghost@example.com"})
	require.NoError(t, err, "an unknown user is a result, the workflow decides")
	require.NoError(t, v.Get(&found))
	assert.Nil(t, found.User)

	ben, _ := fake.UserByName(faketableau.SandboxSite, "ben@example.com")
	_, err = env.ExecuteActivity(acts.SetSiteRole, activities.SetSiteRoleInput{UserID: ben.ID, Role: tableau.RoleCreator})
	require.NoError(t, err)
	assert.Equal(t, "Creator", fake.Role(faketableau.SandboxSite, "ben@example.com"))

	v, err = env.ExecuteActivity(acts.CheckConnection)
	require.NoError(t, err)
	var conn activities.ConnectionCheck
	require.NoError(t, v.Get(&conn))
	assert.InDelta(t, 180*86400, conn.PATExpiresInSeconds, 120)
	assert.Zero(t, fake.LiveSessions(), "every activity signed out")
}

func TestActivityErrorClasses(t *testing.T) {
	fake := testsuite.StartTableau(t)
	acts := &activities.Activities{}
	ben, _ := fake.UserByName(faketableau.SandboxSite, "ben@example.com")
	lookup := func(env *sdktestsuite.TestActivityEnvironment) error {
		_, err := env.ExecuteActivity(acts.FindUser, activities.FindUserInput{Name: "ben@example.com"})
		return err
	}
	cases := []struct {
		name         string
		fault        *faketableau.Fault
		cfg          func() tableau.Config
		run          func(env *sdktestsuite.TestActivityEnvironment) error
		wantType     string
		nonRetryable bool
		wantMessage  string
	}{
		{name: "rejected sign-in", cfg: func() tableau.Config {
			c := fake.PATConfig()
			c.PATSecret = tableau.NewSecret("revoked-or-expired-0000")
			return c
		}, wantType: activities.ErrTableauSignInRejected, nonRetryable: true, wantMessage: "Tableau sign-in failed (HTTP 401, Signin Error): Error signing in to Tableau Server"},
		{name: "no token", fault: &faketableau.Fault{PathContains: "signin", Status: 200, Body: `{"credentials":{}}`}, wantType: activities.ErrTableauNoSessionToken, wantMessage: "Tableau sign-in succeeded but returned no session token"},
		{name: "rate limited", fault: ptr(faketableau.RateLimited(9 * time.Second)), wantType: activities.ErrTableauRateLimited,
			wantMessage: "(HTTP 429, Too Many Requests): The rate limit was exceeded. Try again later."},
		{name: "server error", fault: ptr(faketableau.ServerError()), wantType: activities.ErrTableauServerError,
			wantMessage: "(HTTP 500, Internal Server Error): An unexpected error occurred."},
		{name: "HTML 503", fault: ptr(faketableau.HTMLUnavailable()), wantType: activities.ErrTableauServerError, wantMessage: "Service Temporarily Unavailable"},
		{name: "session replaced", fault: &faketableau.Fault{PathContains: "/users", Status: 401, Body: `{"error":{"code":"401002","summary":"Unauthorized Access","detail":"Invalid authentication credentials were provided."}}`}, wantType: activities.ErrTableauSessionInvalidated,
			wantMessage: "(HTTP 401, 401002, Unauthorized Access): Invalid authentication credentials were provided."},
		{name: "permission denied", cfg: fake.ViewerPATConfig, wantType: activities.ErrTableauPermissionDenied, nonRetryable: true,
			wantMessage: "(HTTP 403, 403000, Forbidden): Only site and server administrators can query the users of a site."},
		{name: "unknown user ID", run: func(env *sdktestsuite.TestActivityEnvironment) error {
			_, err := env.ExecuteActivity(acts.GetUser, activities.GetUserInput{ID: "00000000-0000-0000-0000-000000000000"})
			return err
		}, wantType: activities.ErrUserNotFound, nonRetryable: true, wantMessage: "404002"},
		{name: "user removed before the role update", run: func(env *sdktestsuite.TestActivityEnvironment) error {
			_, err := env.ExecuteActivity(acts.SetSiteRole, activities.SetSiteRoleInput{UserID: "00000000-0000-0000-0000-000000000000", Role: tableau.RoleViewer})
			return err
		}, wantType: activities.ErrUserNotFound, nonRetryable: true, wantMessage: "404002"},
		{name: "invalid role", fault: &faketableau.Fault{Method: "PUT", Status: 400, Body: `{"error":{"code":"400013","summary":"Bad Request","detail":"Invalid site role"}}`}, run: func(env *sdktestsuite.TestActivityEnvironment) error {
			_, err := env.ExecuteActivity(acts.SetSiteRole, activities.SetSiteRoleInput{UserID: ben.ID, Role: tableau.RoleViewer})
			return err
		}, wantType: activities.ErrTableauRequestRejected, nonRetryable: true, wantMessage: "400013"},
		{name: "bad role input", run: func(env *sdktestsuite.TestActivityEnvironment) error {
			_, err := env.ExecuteActivity(acts.SetSiteRole, activities.SetSiteRoleInput{UserID: ben.ID, Role: "Publisher"})
			return err
		}, wantType: activities.ErrInvalidInput, nonRetryable: true, wantMessage: `role "Publisher" is not a site role tabflow can set: use one of Creator, Explorer`},
		{name: "reset", fault: &faketableau.Fault{Reset: true}, wantType: activities.ErrTableauUnreachable, wantMessage: "could not reach Tableau at " + fake.Host},
		{name: "an hour-long Retry-After", fault: &faketableau.Fault{Status: 429, Header: http.Header{"Retry-After": {"3600"}}, Body: "slow down"},
			wantType: activities.ErrTableauRateLimited, wantMessage: "Tableau sign-in failed (HTTP 429): slow down"},
		{name: "a body that stalls past the request timeout", cfg: func() tableau.Config {
			c := fake.PATConfig()
			c.Timeout = 300 * time.Millisecond
			return c
		}, fault: &faketableau.Fault{PathContains: "/users", Status: 200, Body: `{"users":{}}`, StallBody: 2 * time.Second},
			wantType: activities.ErrTableauUnreachable, wantMessage: "could not reach Tableau at"},
		{name: "a malformed redirect Location", fault: &faketableau.Fault{PathContains: "signin", Status: 302, Header: http.Header{"Location": {"https://[::1"}}},
			wantType: activities.ErrTableauRedirectRefused, nonRetryable: true, wantMessage: "not a valid URL"},
		{name: "503 with Retry-After", fault: &faketableau.Fault{Status: 503, Header: http.Header{"Retry-After": {"11"}}, Body: "down for maintenance"},
			wantType: activities.ErrTableauServerError, wantMessage: "down for maintenance"},
		{name: "site not found is no unknown user", fault: &faketableau.Fault{PathContains: "/users", Status: 404, Body: `{"error":{"code":"404000","summary":"Not Found","detail":"Site not found"}}`},
			wantType: activities.ErrTableauRequestRejected, nonRetryable: true, wantMessage: "404000"},
		{name: "a proxy's 404 page is no unknown user", fault: &faketableau.Fault{PathContains: "/users", Status: 404, Body: "<html>404 Not Found</html>"},
			wantType: activities.ErrTableauRequestRejected, nonRetryable: true, wantMessage: "404 Not Found"},
		{name: "connected app without the scope", cfg: func() tableau.Config {
			c := fake.JWTConfig()
			c.JWT.Scopes = []string{tableau.ScopeContentRead}
			return c
		}, wantType: activities.ErrTableauPermissionDenied, nonRetryable: true, wantMessage: "needs the scope tableau:users:read"},
		{name: "password session without the permission", cfg: fake.PasswordConfig,
			fault:    &faketableau.Fault{PathContains: "/users", Status: 401, Body: `{"error":{"code":"401002","summary":"Unauthorized Access","detail":"Invalid authentication credentials were provided."}}`},
			wantType: activities.ErrTableauPermissionDenied, nonRetryable: true, wantMessage: "with a username and password, the user lacks the permission"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := fake.PATConfig()
			if c.cfg != nil {
				cfg = c.cfg()
			}
			env := activityEnv(t, fake, cfg)
			if c.fault != nil {
				defer fake.Inject(*c.fault)()
			}
			run := c.run
			if run == nil {
				run = lookup
			}
			ae := appErr(t, run(env))
			assert.Equal(t, c.wantType, ae.Type())
			assert.Equal(t, c.nonRetryable, ae.NonRetryable())
			require.NotEmpty(t, c.wantMessage, "every row says what the user reads")
			assert.Contains(t, ae.Error(), c.wantMessage)
			assert.NotContains(t, ae.Error(), faketableau.SandboxAdminSecret)
			if c.name == "an hour-long Retry-After" {
				assert.Equal(t, time.Minute, ae.NextRetryDelay(), "capped, so the activity keeps retrying")
			}
			if c.name == "503 with Retry-After" {
				assert.Equal(t, 11*time.Second, ae.NextRetryDelay(), "a 503 may say when to come back")
			}
			if c.name == "rate limited" {
				assert.Equal(t, 9*time.Second, ae.NextRetryDelay(), "the next retry waits for Retry-After")
				var details activities.ErrorDetails
				require.NoError(t, ae.Details(&details))
				assert.Equal(t, "429000", details.Code)
			}
		})
	}
}

func TestUnreachableHostIsRetryable(t *testing.T) {
	fake := testsuite.StartTableau(t)
	addr := testsuite.UnusedAddr(t)
	cfg := fake.PATConfig()
	cfg.ServerURL = addr
	env := activityEnv(t, fake, cfg)
	_, err := env.ExecuteActivity((&activities.Activities{}).CheckConnection)
	ae := appErr(t, err)
	assert.Equal(t, activities.ErrTableauUnreachable, ae.Type())
	assert.False(t, ae.NonRetryable())
	assert.Contains(t, ae.Error(), "could not reach Tableau at "+addr)
}

func TestRequestActivity(t *testing.T) {
	fake := testsuite.StartTableau(t)
	env := activityEnv(t, fake, fake.JWTConfig())
	v, err := env.ExecuteActivity((&activities.Activities{}).Request, activities.RequestInput{Method: http.MethodGet, Path: "-/search", Query: map[string]string{"terms": "forecast"}})
	require.NoError(t, err)
	var res activities.RequestResult
	require.NoError(t, v.Get(&res))
	assert.Equal(t, 200, res.Status)
	assert.Contains(t, string(res.Body), "Sales Forecast")
}

func ptr[T any](v T) *T { return &v }

// An activity that waits for its PAT's previous session, or for a slow
// answer, keeps heartbeating, so Temporal does not think its worker died: run
// under a 2 s heartbeat timeout, it outlives a 5 s wait.
func TestActivitiesHeartbeatWhileWaiting(t *testing.T) {
	fake := testsuite.StartTableau(t)
	cfg := fake.PATConfig()
	var s sdktestsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(30 * time.Second)
	env.RegisterActivity(activities.New(fake.Client(t, cfg)))
	acts := &activities.Activities{}
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, HeartbeatTimeout: 2 * time.Second,
			RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1}})
		if err := workflow.ExecuteActivity(ctx, acts.CheckConnection).Get(ctx, nil); err != nil {
			return err
		}
		return workflow.ExecuteActivity(ctx, acts.ServerInfo).Get(ctx, nil)
	}, workflow.RegisterOptions{Name: "waits"})

	held := make(chan struct{})
	go fake.Client(t, cfg).WithSession(testsuite.Context(t), 0, func(context.Context, *tableau.Session) error {
		close(held)
		time.Sleep(5 * time.Second) // a long listing holds the PAT
		return nil
	})
	<-held
	defer fake.Inject(faketableau.Fault{PathContains: "serverinfo", Latency: 5 * time.Second})()
	env.ExecuteWorkflow("waits")
	require.NoError(t, env.GetWorkflowError(), "no heartbeat timeout while waiting for the PAT, nor during a slow ServerInfo")
}

// The content check falls back to a workbook listing only where the
// collections endpoint does not exist; a 403 is the answer.
func TestContentCheckFallsBackOnlyWhenCollectionsAreMissing(t *testing.T) {
	fake := testsuite.StartTableau(t)
	env := activityEnv(t, fake, fake.PATConfig())
	defer fake.Inject(faketableau.Fault{PathContains: "collections", Status: 403, Body: `{"error":{"code":"403000","summary":"Forbidden","detail":"no"}}`})()
	fake.ResetCounters()
	_, err := env.ExecuteActivity((&activities.Activities{}).CheckContentAccess)
	assert.Equal(t, activities.ErrTableauPermissionDenied, appErr(t, err).Type())
	assert.Zero(t, fake.Count("workbooks:list"), "no fallback on a 403")
}

// With a pool, the health check reports the soonest PAT expiry: the one that
// will stop working first.
func TestConnectionCheckReportsTheSoonestPATExpiryOfAPool(t *testing.T) {
	fake := testsuite.StartTableau(t)
	cfg := fake.PATConfig()
	fake.AddPAT(faketableau.SandboxSite, "short-lived", "short-lived-secret-0000", "admin@example.com", 5*24*time.Hour)
	cfg.PATPool = []tableau.PAT{{Name: "short-lived", Secret: tableau.NewSecret("short-lived-secret-0000")}}
	acts := activities.New(fake.Client(t, cfg))
	out, err := acts.CheckConnection(testsuite.Context(t))
	require.NoError(t, err)
	assert.InDelta(t, (5 * 24 * time.Hour).Seconds(), float64(out.PATExpiresInSeconds), 3600, "5 days, not the first PAT's 180")
}
