package workflows_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"
	sdktestsuite "go.temporal.io/sdk/testsuite"

	"tabflow/activities"
	"tabflow/tableau"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// realEnv runs workflows with the real activities against a new fake Tableau.
func realEnv(t *testing.T) (*sdktestsuite.TestWorkflowEnvironment, *testsuite.Tableau) {
	fake := testsuite.StartTableau(t)
	env := envWith(t, fake, fake.PATConfig())
	fake.ResetCounters()
	return env, fake
}

// envWith runs workflows with the real activities signing in with cfg.
func envWith(t *testing.T, fake *testsuite.Tableau, cfg tableau.Config) *sdktestsuite.TestWorkflowEnvironment {
	return envFor(activities.New(fake.Client(t, cfg)))
}

func TestProvisionAgainstFakeTableau(t *testing.T) {
	env, fake := realEnv(t)
	env.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Explorer"})
	var res workflows.ProvisionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.True(t, res.Changed)
	assert.Equal(t, "Unlicensed", res.PreviousRole)
	assert.Equal(t, "Explorer", fake.Role(faketableau.SandboxSite, "ana@example.com"))
	assert.Equal(t, 6, fake.Count(""), "2 × (sign-in, call, sign-out)")
	assert.Equal(t, 1, fake.Count("users:update"))

	fake.ResetCounters()
	env2 := envWith(t, fake, fake.PATConfig())
	env2.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Explorer"})
	require.NoError(t, env2.GetWorkflowResult(&res))
	assert.False(t, res.Changed)
	assert.Equal(t, 3, fake.Count(""), "nothing to change: one look-up session")
	assert.Zero(t, fake.Collisions())
}

// An hour-long Retry-After (a proxy's header) must not lose an access
// decision: the retry waits at most the activity's longest interval.
func TestProvisionRidesOutAnHourLongRetryAfter(t *testing.T) {
	env, fake := realEnv(t)
	fake.Inject(faketableau.Fault{PathContains: "/users", Times: 1, Status: 429, Header: http.Header{"Retry-After": {"3600"}}, Body: "slow down"})
	env.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Explorer"})
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, "Explorer", fake.Role(faketableau.SandboxSite, "ana@example.com"))
}

func TestProvisionUnknownUserAgainstFake(t *testing.T) {
	env, fake := realEnv(t)
	env.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ghost@example.com", Role: "Viewer"})
	assert.Equal(t, activities.ErrUserNotFound, workflowError(t, env).Type())
	assert.Zero(t, fake.Count("users:update"))
}

func TestDeprovisionAgainstFakeTableau(t *testing.T) {
	env, fake := realEnv(t)
	env.ExecuteWorkflow(workflows.DeprovisionWorkflow, workflows.DeprovisionInput{User: "chloe@example.com", Role: "Explorer"})
	var res workflows.DeprovisionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.True(t, res.Changed)
	assert.Equal(t, "Unlicensed", fake.Role(faketableau.SandboxSite, "chloe@example.com"))
	assert.Zero(t, fake.Count("users:delete"), "never deleted (the fake serves Remove User)")
	_, still := fake.UserByName(faketableau.SandboxSite, "chloe@example.com")
	assert.True(t, still, "never deleted")
}

// Only Tableau's "no such user" is one: a site that is not found (or a
// proxy's 404 page) fails the revoke instead of reporting nothing to do.
func TestDeprovisionDoesNotMistakeAnyNotFoundForAnUnknownUser(t *testing.T) {
	for name, body := range map[string]string{
		"site not found":     `{"error":{"code":"404000","summary":"Not Found","detail":"Site 'x' could not be found."}}`,
		"a proxy's 404 page": "<html><body>404 Not Found</body></html>",
	} {
		t.Run(name, func(t *testing.T) {
			env, fake := realEnv(t)
			fake.Inject(faketableau.Fault{PathContains: "/users", Status: 404, Body: body})
			env.ExecuteWorkflow(workflows.DeprovisionWorkflow, workflows.DeprovisionInput{User: "chloe@example.com", Role: "Explorer"})
			appErr := workflowError(t, env)
			assert.Equal(t, activities.ErrTableauRequestRejected, appErr.Type())
			assert.NotContains(t, appErr.Error(), "nothing to revoke")
			assert.Equal(t, "Explorer", fake.Role(faketableau.SandboxSite, "chloe@example.com"))
		})
	}
}

// A POST through TableauRequest is sent once: a failure after it may have
// reached Tableau is reported, never re-sent, unless the input asks.
func TestTableauRequestSendsWritesOnce(t *testing.T) {
	body := map[string]any{"user": map[string]any{"name": "new@example.com", "siteRole": "Viewer"}}
	for _, c := range []struct {
		method, path string
		retry        bool
		wantSent     int
		why          string
	}{
		{"POST", "sites/{site-id}/users", false, 1, "sent once"},
		{"POST", "sites/{site-id}/users", true, 2, `"retry": true re-sends (the fake has no Add User: 404 the second time)`},
		{"PATCH", "sites/{site-id}/users/{user-id}", false, 1, "a PATCH is sent once too"},
		{"GET", "sites/{site-id}/users", false, 2, "a GET is retried, and succeeds"},
	} {
		env, fake := realEnv(t)
		fake.Inject(faketableau.Fault{Method: c.method, PathContains: "/users", Times: 1, Status: 502, Body: "bad gateway"})
		in := map[string]any{"method": c.method, "path": c.path}
		if c.method != "GET" {
			in["body"] = body
		}
		if c.retry {
			in["retry"] = true
		}
		env.ExecuteWorkflow(workflows.TableauRequestWorkflow, in)
		switch {
		case c.method == "GET":
			require.NoError(t, env.GetWorkflowError(), c.why)
		case !c.retry:
			assert.Equal(t, activities.ErrTableauServerError, workflowError(t, env).Type(), c.why)
		default:
			workflowError(t, env)
		}
		assert.Equal(t, c.wantSent, countRequests(fake, c.method, "/users"), c.why)
	}
}

func countRequests(fake *testsuite.Tableau, method, pathContains string) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Method == method && strings.Contains(r.Path, pathContains) {
			n++
		}
	}
	return n
}

func TestHealthCheckAgainstFakeTableau(t *testing.T) {
	env, _ := realEnv(t)
	env.ExecuteWorkflow(workflows.HealthCheckWorkflow, map[string]any{})
	var res workflows.HealthCheckResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.True(t, res.OK, "%+v", res)
	assert.Equal(t, `Successfully accessed Tableau site "sandbox"`, res.Checks[1].Message)
	assert.Equal(t, "PAT can list site users (7 total).", res.Checks[3].Message)
	assert.NotEmpty(t, res.PATExpiresIn)
}

func TestHealthCheckNonAdminAgainstFake(t *testing.T) {
	fake := testsuite.StartTableau(t)
	env := envWith(t, fake, fake.ViewerPATConfig())
	env.ExecuteWorkflow(workflows.HealthCheckWorkflow, map[string]any{})
	var res workflows.HealthCheckResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.False(t, res.OK)
	assert.True(t, res.Checks[0].OK && res.Checks[1].OK && res.Checks[2].OK)
	assert.Contains(t, res.Checks[3].Message, "does not have permission to manage site users")
	require.Len(t, res.Warnings, 1, "the viewer PAT expires in 10 days")
}

func TestHealthCheckContentFallsBackOnOldServers(t *testing.T) {
	fake := testsuite.StartTableau(t, faketableau.WithAPIVersion("3.25"))
	env := envWith(t, fake, fake.PATConfig())
	env.ExecuteWorkflow(workflows.HealthCheckWorkflow, map[string]any{})
	var res workflows.HealthCheckResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.True(t, res.Checks[2].OK, "%+v", res.Checks[2])
	assert.Equal(t, 1, fake.Count("workbooks:list"))
}

func TestReadWorkflowsAgainstFake(t *testing.T) {
	env, _ := realEnv(t)
	env.ExecuteWorkflow(workflows.ListUsersWorkflow, map[string]any{})
	var users workflows.ListUsersResult
	require.NoError(t, env.GetWorkflowResult(&users))
	assert.Equal(t, 7, int(users.Pagination.TotalAvailable))
	assert.Len(t, users.Users, 7)

	env, _ = realEnv(t)
	env.ExecuteWorkflow(workflows.TableauRequestWorkflow, map[string]any{"method": "GET", "path": "sites/{site-id}/users", "query": map[string]string{"filter": "name:eq:ben@example.com"}})
	var raw workflows.TableauRequestResult
	require.NoError(t, env.GetWorkflowResult(&raw))
	assert.Equal(t, 200, raw.Status)
	assert.Contains(t, string(raw.Body), `"name":"ben@example.com"`)

	env, _ = realEnv(t)
	env.ExecuteWorkflow(workflows.GetUserWorkflow, map[string]any{"user": "ghost@example.com"})
	assert.Equal(t, activities.ErrUserNotFound, workflowError(t, env).Type())
}

// Every workflow's outcome is in its current details, for the Temporal UI.
func TestWorkflowsShowTheirOutcomeAtAGlance(t *testing.T) {
	details := func(env *sdktestsuite.TestWorkflowEnvironment) string {
		v, err := env.QueryWorkflow("__temporal_workflow_metadata")
		require.NoError(t, err)
		var meta sdkpb.WorkflowMetadata
		require.NoError(t, v.Get(&meta))
		return meta.GetCurrentDetails()
	}
	for _, c := range []struct {
		workflow string
		input    map[string]any
		want     string
	}{
		{workflows.ProvisionWorkflow, map[string]any{"user": "ana@example.com", "role": "Explorer"}, "ana@example.com: site role Unlicensed → Explorer"},
		{workflows.ProvisionWorkflow, map[string]any{"user": "ghost@example.com", "role": "Explorer"}, `failed: Tableau user "ghost@example.com" was not found on this site.`},
		{workflows.ListUsersWorkflow, map[string]any{"pageSize": 5}, "ListUsers page 1: 5 of 7 users"},
		{workflows.GetUserWorkflow, map[string]any{"user": "ben@example.com"}, "ben@example.com: site role Viewer"},
		{workflows.TableauRequestWorkflow, map[string]any{"method": "GET", "path": "sessions/current"}, "GET sessions/current → 200"},
	} {
		env, _ := realEnv(t)
		env.ExecuteWorkflow(c.workflow, c.input)
		assert.Contains(t, details(env), c.want, c.workflow)
	}
}

// With a PAT pool the health check signs in with every PAT, reports each
// one's lifetime, and names a PAT that Tableau refuses.
func TestHealthCheckReportsEveryPATOfThePool(t *testing.T) {
	fake := testsuite.StartTableau(t)
	cfg := fake.PoolConfig()
	fake.RevokePAT(testsuite.SecondPAT)
	env := envWith(t, fake, cfg)
	env.ExecuteWorkflow(workflows.HealthCheckWorkflow, map[string]any{})
	var res workflows.HealthCheckResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Len(t, res.PATs, 2)
	assert.True(t, res.PATs[0].OK)
	assert.NotEmpty(t, res.PATs[0].ExpiresIn)
	assert.False(t, res.PATs[1].OK)
	assert.Contains(t, res.PATs[1].Cause, "Tableau sign-in failed (HTTP 401")
	assert.True(t, res.Checks[0].OK, "the connection works with the other PAT")
	require.NotEmpty(t, res.Warnings)
	assert.Contains(t, res.Warnings[0], `Tableau refused the PAT "tabflow-admin-2" of the pool`)
}

// Tableau applies a role change but its answer is lost: the retry finds the
// role already set and sends no second update.
func TestProvisionRetryAfterALostAnswerDoesNotUpdateTwice(t *testing.T) {
	env, fake := realEnv(t)
	fake.Inject(faketableau.Fault{Method: "PUT", PathContains: "/users/", Times: 1, LoseAnswer: true})
	env.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Explorer"})
	var res workflows.ProvisionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.True(t, res.Changed)
	assert.Equal(t, "Explorer", fake.Role(faketableau.SandboxSite, "ana@example.com"))
	assert.Equal(t, 1, fake.Count("users:update"), "the retry saw the role applied")
	assert.Len(t, fake.RoleChanges(), 1)
}

// A Unified Access Token provisions and passes the health check.
func TestUATProvisionsAndHealthChecks(t *testing.T) {
	fake := testsuite.StartTableau(t)
	cfg := fake.UATConfig(t)
	env := envWith(t, fake, cfg)
	env.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Explorer"})
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, "Explorer", fake.Role(faketableau.SandboxSite, "ana@example.com"))

	env = envWith(t, fake, cfg)
	env.ExecuteWorkflow(workflows.HealthCheckWorkflow, map[string]any{})
	var report workflows.HealthCheckResult
	require.NoError(t, env.GetWorkflowResult(&report))
	assert.True(t, report.OK, "%+v", report)
}
