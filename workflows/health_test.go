package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"

	"tabflow/activities"
	"tabflow/workflows"
)

// healthEnv runs HealthCheck with the checks' answers (nil: the check must
// not run) and returns the report and the activities that ran.
func healthEnv(t *testing.T, conn, site, content, scope []any) (workflows.HealthCheckResult, []string) {
	t.Helper()
	env := newEnv(t)
	ran := recordActivities(env)
	env.OnActivity(acts.CheckConnection, mock.Anything).Return(conn...)
	if site != nil {
		env.OnActivity(acts.CheckSessionSite, mock.Anything).Return(site...)
	}
	if content != nil {
		env.OnActivity(acts.CheckContentAccess, mock.Anything).Return(content...)
	}
	if scope != nil {
		env.OnActivity(acts.CheckUserScope, mock.Anything, activities.UserScopeInput{SiteID: "site-luid"}).Return(scope...)
	}
	env.ExecuteWorkflow(workflows.HealthCheckWorkflow, map[string]any{})
	require.NoError(t, env.GetWorkflowError(), "the report completes even when checks fail")
	var res workflows.HealthCheckResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Len(t, res.Checks, 4)
	return res, *ran
}

func messages(res workflows.HealthCheckResult) []string {
	var out []string
	for _, c := range res.Checks {
		out = append(out, c.Message)
	}
	return out
}

var (
	connOK    = []any{activities.ConnectionCheck{PATExpiresInSeconds: 177*86400 + 5*3600 + 38*60}, nil}
	siteOK    = []any{activities.SiteCheck{SiteID: "site-luid", ContentURL: "acme"}, nil}
	contentOK = []any{activities.ContentCheck{Via: "collections"}, nil}
	total42   = 42
	scopeOK   = []any{activities.UserScopeCheck{Total: &total42}, nil}
)

func TestHealthCheckAllPass(t *testing.T) {
	res, _ := healthEnv(t, connOK, siteOK, contentOK, scopeOK)
	assert.True(t, res.OK)
	assert.Equal(t, []string{
		"Successfully connected to Tableau API",
		`Successfully accessed Tableau site "acme"`,
		"Successfully accessed Tableau content",
		"PAT can list site users (42 total).",
	}, messages(res))
	assert.Equal(t, []string{"Validate Tableau API Connection", "Check Tableau Session & Site", "Check Tableau Content Access", "Check Tableau User Management Scope"},
		[]string{res.Checks[0].Name, res.Checks[1].Name, res.Checks[2].Name, res.Checks[3].Name})
	assert.Equal(t, "177d 5h 38m", res.PATExpiresIn)
	assert.Empty(t, res.Warnings)
}

func TestHealthCheckDefaultSiteAndUnknownTotal(t *testing.T) {
	res, _ := healthEnv(t, []any{activities.ConnectionCheck{}, nil}, []any{activities.SiteCheck{SiteID: "site-luid"}, nil}, contentOK, []any{activities.UserScopeCheck{}, nil})
	assert.Equal(t, "Successfully accessed the default Tableau site", res.Checks[1].Message)
	assert.Equal(t, "PAT can list site users.", res.Checks[3].Message)
	assert.Empty(t, res.PATExpiresIn, "no PAT lifetime for JWT or password")
}

func TestHealthCheckWarnsOfExpiringPAT(t *testing.T) {
	res, _ := healthEnv(t, []any{activities.ConnectionCheck{PATExpiresInSeconds: 9 * 86400}, nil}, siteOK, contentOK, scopeOK)
	assert.True(t, res.OK)
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "The Personal Access Token expires in 9d 0h 0m")

	for days, warned := range map[int64]bool{13: true, 14: false, 15: false} {
		res, _ := healthEnv(t, []any{activities.ConnectionCheck{PATExpiresInSeconds: days * 86400}, nil}, siteOK, contentOK, scopeOK)
		assert.Equal(t, warned, len(res.Warnings) == 1, "a PAT with %d days left: warned under 14 days only", days)
	}
}

func TestHealthCheckFailures(t *testing.T) {
	signIn := activities.ErrTableauSignInRejected
	t.Run("cannot sign in: said once, later checks not run", func(t *testing.T) {
		res, ran := healthEnv(t, []any{activities.ConnectionCheck{}, appError(signIn, true)}, nil, nil, nil)
		assert.False(t, res.OK)
		notRun := "Not run: signing in to Tableau failed (see Validate Tableau API Connection)."
		assert.Equal(t, []string{
			"Unable to connect to Tableau API. Please verify your credentials are valid and the server URL is correct.",
			notRun, notRun, notRun,
		}, messages(res))
		assert.Equal(t, "TableauSignInRejected from the mock", res.Checks[0].Cause, "the failed row carries its cause")
		for _, c := range res.Checks[1:] {
			assert.True(t, c.NotRun, c.Name)
			assert.False(t, c.OK, c.Name)
			assert.Empty(t, c.Cause, "the cause is said once")
		}
		assert.Equal(t, []string{"CheckConnection"}, ran)
	})
	t.Run("site unknown", func(t *testing.T) {
		res, ran := healthEnv(t, connOK, []any{activities.SiteCheck{}, appError(activities.ErrTableauRequestRejected, true)}, contentOK, nil)
		assert.Equal(t, "Failed to access the configured Tableau site. Please verify your site content URL and that the PAT has access to it.", res.Checks[1].Message)
		assert.Equal(t, "Could not look up the current Tableau site before checking user-management scope. Verify the Session & Site check passes first.", res.Checks[3].Message)
		assert.NotContains(t, ran, "CheckUserScope")
	})
	t.Run("non-admin PAT", func(t *testing.T) {
		res, _ := healthEnv(t, connOK, siteOK, contentOK, []any{activities.UserScopeCheck{}, appError(activities.ErrTableauPermissionDenied, true)})
		assert.False(t, res.OK)
		assert.Equal(t, "The configured PAT does not have permission to manage site users. Recreate the PAT under a site or server administrator account if user-management workflows are needed.", res.Checks[3].Message)
		assert.True(t, res.Checks[2].OK)
	})
	t.Run("listing fails otherwise", func(t *testing.T) {
		res, _ := healthEnv(t, connOK, siteOK, []any{activities.ContentCheck{}, appError(activities.ErrTableauRequestRejected, true)}, []any{activities.UserScopeCheck{}, appError(activities.ErrTableauRequestRejected, true)})
		assert.Equal(t, "Failed to access Tableau content. Please verify your token has read permissions.", res.Checks[2].Message)
		assert.Equal(t, "Failed to list Tableau site users while checking user-management scope.", res.Checks[3].Message)
	})
}

// An unhealthy report is visible at a glance: a one-line summary in the
// workflow's current details, and the TabflowHealthy memo.
func TestHealthCheckSummaryAndMemo(t *testing.T) {
	env := newEnv(t)
	env.OnUpsertMemo(map[string]any{workflows.HealthyMemo: false}).Return(nil).Once()
	env.OnActivity(acts.CheckConnection, mock.Anything).Return(connOK...)
	env.OnActivity(acts.CheckSessionSite, mock.Anything).Return(siteOK...)
	env.OnActivity(acts.CheckContentAccess, mock.Anything).Return(activities.ContentCheck{}, appError(activities.ErrTableauPermissionDenied, true))
	env.OnActivity(acts.CheckUserScope, mock.Anything, mock.Anything).Return(scopeOK...)
	env.ExecuteWorkflow(workflows.HealthCheckWorkflow, map[string]any{})
	require.NoError(t, env.GetWorkflowError())
	v, err := env.QueryWorkflow("__temporal_workflow_metadata")
	require.NoError(t, err)
	var meta sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&meta))
	assert.Equal(t, "HealthCheck: 3 of 4 checks passed — content access failed", meta.GetCurrentDetails())
	env.AssertExpectations(t) // the memo says unhealthy
}
