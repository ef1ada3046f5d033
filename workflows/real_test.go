package workflows_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	sdktestsuite "go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

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
	var s sdktestsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	workflows.Register(env, activities.New(fake.Client(t, cfg)))
	return env
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
	env, fake := realEnv(t)
	fake.Inject(faketableau.Fault{Method: "POST", PathContains: "/users", Times: 1, Status: 502, Body: "bad gateway"})
	env.ExecuteWorkflow(workflows.TableauRequestWorkflow, map[string]any{"method": "POST", "path": "sites/{site-id}/users", "body": body})
	assert.Equal(t, activities.ErrTableauServerError, workflowError(t, env).Type())
	assert.Equal(t, 1, countRequests(fake, "POST", "/users"), "sent once")

	env, fake = realEnv(t)
	fake.Inject(faketableau.Fault{Method: "POST", PathContains: "/users", Times: 1, Status: 502, Body: "bad gateway"})
	env.ExecuteWorkflow(workflows.TableauRequestWorkflow, map[string]any{"method": "POST", "path": "sites/{site-id}/users", "body": body, "retry": true})
	workflowError(t, env) // the fake has no Add User: 404 on the second attempt
	assert.Equal(t, 2, countRequests(fake, "POST", "/users"), `"retry": true re-sends`)

	env, fake = realEnv(t)
	fake.Inject(faketableau.Fault{Method: "GET", PathContains: "/users", Times: 1, Status: 502, Body: "bad gateway"})
	env.ExecuteWorkflow(workflows.TableauRequestWorkflow, map[string]any{"method": "GET", "path": "sites/{site-id}/users"})
	require.NoError(t, env.GetWorkflowError(), "a GET is retried")
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

func access(op, role, id, at string) workflows.AccessEvent {
	return workflows.AccessEvent{Op: op, Role: role, RequestID: id, At: at}
}

func outcomes(h []workflows.AccessRecord) []string {
	var out []string
	for _, r := range h {
		out = append(out, r.RequestID+":"+r.Outcome)
	}
	return out
}

func TestUserAccessAppliesBufferedEventsInArrivalOrder(t *testing.T) {
	env, fake := realEnv(t)
	env.RegisterDelayedCallback(func() {
		for _, ev := range []workflows.AccessEvent{
			access("grant", "Explorer", "r1", "2026-11-23T10:00:00Z"),
			access("revoke", "Explorer", "r2", "2026-11-23T10:01:00Z"),
			access("grant", "Creator", "r3", "2026-11-23T10:02:00Z"),
			access("grant", "Creator", "r3", "2026-11-23T10:02:00Z"), // duplicate delivery
			access("revoke", "Viewer", "r4", "2026-11-23T10:03:00Z"), // not the current role
			access("grant", "Viewer", "r5", "2026-11-23T09:00:00Z"),  // older than the last applied
			access("grant", "Boss", "r6", ""),                        // invalid
		} {
			env.SignalWorkflow(workflows.AccessSignal, ev)
		}
	}, 0)
	env.ExecuteWorkflow(workflows.UserAccessWorkflow, workflows.UserAccessInput{User: "ana@example.com"})
	var res workflows.UserAccessResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, []string{"r1:applied", "r2:applied", "r3:applied", "r3:duplicate", "r4:unchanged", "r5:stale", "r6:rejected"}, outcomes(res.History))
	assert.Equal(t, "Creator", fake.Role(faketableau.SandboxSite, "ana@example.com"))
	assert.Equal(t, "Unlicensed", res.History[1].RoleAfter)
	assert.Contains(t, res.History[6].Message, `role "Boss" is not a site role tabflow can set`)
	assert.Equal(t, 3, fake.Count("users:update"), "only the three applied events changed anything")
}

func TestUserAccessDelayedEventsAndQuery(t *testing.T) {
	env, fake := realEnv(t)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.AccessSignal, access("grant", "Viewer", "a", "")) }, time.Minute)
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.HistoryQuery)
		require.NoError(t, err)
		var h []workflows.AccessRecord
		require.NoError(t, v.Get(&h))
		assert.Equal(t, []string{"a:unchanged"}, outcomes(h))
		env.SignalWorkflow(workflows.AccessSignal, access("grant", "Explorer", "b", ""))
	}, 5*time.Minute)
	env.ExecuteWorkflow(workflows.UserAccessWorkflow, workflows.UserAccessInput{User: "ben@example.com"})
	var res workflows.UserAccessResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, []string{"a:unchanged", "b:applied"}, outcomes(res.History), "ben already was a Viewer")
	assert.Equal(t, "Explorer", fake.Role(faketableau.SandboxSite, "ben@example.com"))
}

func TestUserAccessFailedEventCanBeRedelivered(t *testing.T) {
	env, fake := realEnv(t)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.AccessSignal, access("grant", "Viewer", "x1", ""))
	}, 0)
	env.RegisterDelayedCallback(func() {
		fake.AddUser(faketableau.SandboxSite, faketableau.User{Name: "late@example.com", SiteRole: "Unlicensed"})
		env.SignalWorkflow(workflows.AccessSignal, access("grant", "Viewer", "x1", ""))
	}, time.Minute)
	env.ExecuteWorkflow(workflows.UserAccessWorkflow, workflows.UserAccessInput{User: "late@example.com"})
	var res workflows.UserAccessResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, []string{"x1:failed", "x1:applied"}, outcomes(res.History))
	assert.Contains(t, res.History[0].Message, "never creates Tableau accounts")
}

func TestUserAccessContinueAsNewKeepsBufferedSignals(t *testing.T) {
	env, fake := realEnv(t)
	env.RegisterDelayedCallback(func() {
		for i, role := range []string{"Viewer", "Explorer", "Creator", "Explorer", "Viewer"} {
			env.SignalWorkflow(workflows.AccessSignal, access("grant", role, string(rune('a'+i)), ""))
		}
	}, 0)
	env.ExecuteWorkflow(workflows.UserAccessWorkflow, workflows.UserAccessInput{User: "dev@example.com", MaxEventsPerRun: 2})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "%v", env.GetWorkflowError())
	var next workflows.UserAccessInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	assert.Equal(t, []string{"a:applied", "b:applied", "c:applied", "d:applied", "e:applied"}, outcomes(next.State.History),
		"the three signals buffered behind the limit were drained, not lost")
	assert.Equal(t, "Viewer", fake.Role(faketableau.SandboxSite, "dev@example.com"))
	assert.Equal(t, 2, next.MaxEventsPerRun)

	// The next run keeps the dedupe set and the sequence.
	env2 := envWith(t, fake, fake.PATConfig())
	env2.RegisterDelayedCallback(func() {
		env2.SignalWorkflow(workflows.AccessSignal, access("grant", "Creator", "c", ""))
	}, 0)
	next.MaxEventsPerRun = 0
	env2.ExecuteWorkflow(workflows.UserAccessWorkflow, next)
	var res workflows.UserAccessResult
	require.NoError(t, env2.GetWorkflowResult(&res))
	assert.Equal(t, "c:duplicate", outcomes(res.History)[5])
	assert.Equal(t, 6, res.Events)
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
