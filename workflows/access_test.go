package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"tabflow/activities"
	"tabflow/tableau"
	"tabflow/workflows"
)

// newEnv is a workflow test environment with every workflow registered and
// activities to be mocked.
func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	return envFor(&activities.Activities{})
}

// envFor is a workflow test environment running acts, with the data
// converter the worker uses.
func envFor(acts *activities.Activities) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetDataConverter(workflows.DataConverter)
	workflows.Register(env, acts)
	return env
}

var acts *activities.Activities

// recordActivities lists, in order, the activity types env starts.
func recordActivities(env *testsuite.TestWorkflowEnvironment) *[]string {
	var ran []string
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		ran = append(ran, info.ActivityType.Name)
	})
	return &ran
}

func user(name string, role tableau.SiteRole) activities.FindUserResult {
	return activities.FindUserResult{User: &tableau.User{ID: "id-" + name, Name: name, SiteRole: role}}
}

// appError fails an activity the way the real activities do.
func appError(typ string, nonRetryable bool) error {
	return temporal.NewApplicationErrorWithOptions(typ+" from the mock", typ, temporal.ApplicationErrorOptions{NonRetryable: nonRetryable})
}

func workflowError(t *testing.T, env *testsuite.TestWorkflowEnvironment) *temporal.ApplicationError {
	t.Helper()
	err := env.GetWorkflowError()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	return appErr
}

func TestProvisionChangesRole(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.FindUser, mock.Anything, activities.FindUserInput{Name: "ana@example.com"}).Return(user("ana@example.com", tableau.RoleViewer), nil).Once()
	env.OnActivity(acts.SetSiteRole, mock.Anything, activities.SetSiteRoleInput{UserID: "id-ana@example.com", Role: tableau.RoleExplorer, BasedOn: tableau.RoleViewer}).
		Return(&tableau.User{SiteRole: tableau.RoleExplorer}, nil).Once()
	env.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Explorer"})
	require.NoError(t, env.GetWorkflowError())
	var res workflows.ProvisionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, workflows.ProvisionResult{User: "ana@example.com", UserID: "id-ana@example.com", PreviousRole: "Viewer", Role: "Explorer", Changed: true,
		Message: "ana@example.com: site role Viewer → Explorer"}, res)
	env.AssertExpectations(t)
}

func TestProvisionUnchangedMakesNoUpdate(t *testing.T) {
	env := newEnv(t)
	ran := recordActivities(env)
	env.OnActivity(acts.FindUser, mock.Anything, mock.Anything).Return(user("ana@example.com", tableau.RoleExplorer), nil)
	env.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Explorer"})
	var res workflows.ProvisionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.False(t, res.Changed)
	assert.Equal(t, "ana@example.com already has site role Explorer: nothing to change", res.Message)
	assert.Equal(t, []string{"FindUser"}, *ran, "no update call")
}

// Tableau may answer an update with another role (no licence left): that is
// a failure naming both roles, never "applied".
func TestProvisionFailsWhenTableauAppliesAnotherRole(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.FindUser, mock.Anything, mock.Anything).Return(user("ana@example.com", tableau.RoleViewer), nil)
	env.OnActivity(acts.SetSiteRole, mock.Anything, mock.Anything).Return(&tableau.User{SiteRole: tableau.RoleUnlicensed}, nil).Once()
	env.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Creator"})
	appErr := workflowError(t, env)
	assert.Equal(t, activities.ErrRoleNotApplied, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Error(), "Tableau did not apply site role Creator to ana@example.com: it answered with site role Unlicensed")
}

func TestProvisionUnknownUserFailsWithoutRetry(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.FindUser, mock.Anything, mock.Anything).Return(activities.FindUserResult{}, nil).Once()
	env.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ghost@example.com", Role: "Viewer"})
	appErr := workflowError(t, env)
	assert.Equal(t, activities.ErrUserNotFound, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Error(), `Tableau user "ghost@example.com" was not found on this site. tabflow never creates Tableau accounts`)
	assert.Contains(t, appErr.Error(), "sign in to Tableau once (for example through SSO)")
}

func TestProvisionRidesOutRetryableErrors(t *testing.T) {
	for _, typ := range []string{activities.ErrTableauRateLimited, activities.ErrTableauSessionInvalidated, activities.ErrTableauServerError, activities.ErrTableauUnreachable} {
		t.Run(typ, func(t *testing.T) {
			env := newEnv(t)
			env.OnActivity(acts.FindUser, mock.Anything, mock.Anything).Return(activities.FindUserResult{}, appError(typ, false)).Once()
			env.OnActivity(acts.FindUser, mock.Anything, mock.Anything).Return(user("ana@example.com", tableau.RoleViewer), nil).Once()
			env.OnActivity(acts.SetSiteRole, mock.Anything, mock.Anything).Return(nil, appError(typ, false)).Once()
			env.OnActivity(acts.SetSiteRole, mock.Anything, mock.Anything).Return(&tableau.User{SiteRole: tableau.RoleCreator}, nil).Once()
			env.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Creator"})
			var res workflows.ProvisionResult
			require.NoError(t, env.GetWorkflowResult(&res))
			assert.True(t, res.Changed)
			env.AssertExpectations(t)
		})
	}
}

func TestProvisionStopsOnNonRetryableErrors(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.FindUser, mock.Anything, mock.Anything).Return(activities.FindUserResult{}, appError(activities.ErrTableauSignInRejected, true)).Once()
	env.ExecuteWorkflow(workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Creator"})
	assert.Equal(t, activities.ErrTableauSignInRejected, workflowError(t, env).Type())
	env.AssertExpectations(t) // exactly one attempt
}

func TestInvalidInputFailsBeforeAnyActivity(t *testing.T) {
	cases := []struct {
		workflow string
		input    any
		want     string
	}{
		{workflows.ProvisionWorkflow, map[string]any{"role": "Explorer"}, "user is required"},
		{workflows.ProvisionWorkflow, map[string]any{"user": "   ", "role": "Explorer"}, "user must not be blank"},
		{workflows.ProvisionWorkflow, map[string]any{"user": "ana@example.com", "role": "explorer"}, `role "explorer" is not a site role: did you mean "Explorer"?`},
		{workflows.ProvisionWorkflow, map[string]any{"user": "ana@example.com", "role": "Boss"}, `role "Boss" is not a site role tabflow can set`},
		{workflows.ProvisionWorkflow, map[string]any{"user": "ana@example.com", "role": "Explorer", "site": "x"}, "site: unknown field (known fields: user, role, keepHigher, ifRole)"},
		{workflows.ProvisionWorkflow, map[string]any{"user": 42, "role": "Explorer"}, "user: must be a JSON string, not number"},
		{workflows.DeprovisionWorkflow, map[string]any{"user": "ana@example.com"}, "role is required"},
		{workflows.ProvisionWorkflow, map[string]any{"user": "ana@example.com", "role": "SiteAdministratorCreator"}, `role "SiteAdministratorCreator" is not a site role tabflow can set`},
		{workflows.ProvisionWorkflow, map[string]any{"user": "ana@example.com", "role": "Unlicensed"}, `role "Unlicensed" is not a site role tabflow can set`},
		{workflows.DeprovisionWorkflow, map[string]any{"user": "ana@example.com", "role": "SiteAdministratorCreator"}, `role "SiteAdministratorCreator" is not a site role tabflow can set`},
		{workflows.DeprovisionWorkflow, map[string]any{"user": "ana@example.com", "role": "Unlicensed"}, `role "Unlicensed" is not a site role tabflow can set`},
		{workflows.ProvisionWorkflow, map[string]any{"user": "Doe, Jane", "role": "Viewer"}, `user "Doe, Jane" contains a comma`},
		{workflows.ListUsersWorkflow, map[string]any{"pageSize": 1001}, "pageSize must be between 1 and 1000"},
		{workflows.TableauRequestWorkflow, map[string]any{"method": "POST", "path": "auth/switchSite", "body": map[string]any{}}, `path "auth/switchSite" is refused`},
		{workflows.TableauRequestWorkflow, map[string]any{"method": "POST", "path": "/Auth/signout"}, "is refused"},
		{workflows.GetUserWorkflow, map[string]any{"id": ".."}, `id ".." is not a Tableau LUID`},
		{workflows.UsageStatsWorkflow, map[string]any{"type": "..", "luid": "w1"}, `type ".." is not a Tableau content type`},
		{workflows.UsageStatsWorkflow, map[string]any{"type": "workbook", "luid": "../x"}, `luid "../x" is not a Tableau LUID`},
		{workflows.ProvisionWorkflow, json.RawMessage(`{"user":"ana@example.com","user":"ben@example.com","role":"Explorer"}`), "user: given more than once, which is ambiguous"},
		{workflows.SetSiteRoleWorkflow, map[string]any{"user": "ana@example.com", "role": "Publisher"}, `role "Publisher" is not a site role tabflow can set`},
		{workflows.HealthCheckWorkflow, map[string]any{"verbose": true}, "verbose: unknown field"},
		{workflows.TableauRequestWorkflow, map[string]any{"method": "TRACE", "path": "sites"}, `method "TRACE" must be one of GET, POST, PUT, PATCH, DELETE`},
		{workflows.TableauRequestWorkflow, map[string]any{"method": "GET", "path": "https://evil.com/x"}, "path \"https://evil.com/x\" must be relative"},
		{workflows.TableauRequestWorkflow, map[string]any{"method": "GET", "path": "sites/../../x"}, "must not contain . or .. segments"},
		{workflows.TableauRequestWorkflow, map[string]any{"method": "POST", "path": "sites", "body": "not json"}, "body must be a JSON object or array"},
		{workflows.ListUsersWorkflow, map[string]any{"filter": "drop table"}, "filter \"drop table\" must be Tableau filter syntax"},
		{workflows.UserAccessWorkflow, map[string]any{"user": "ana@example.com", "maxEventsPerRun": -1}, "maxEventsPerRun must not be negative"},
		{workflows.UsageStatsWorkflow, map[string]any{}, "items or type and luid are required"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			env := newEnv(t)
			env.ExecuteWorkflow(c.workflow, c.input)
			appErr := workflowError(t, env)
			assert.Equal(t, activities.ErrInvalidInput, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Contains(t, appErr.Error(), c.want)
		})
	}
}

func TestDeprovisionBranches(t *testing.T) {
	t.Run("revoked role is current", func(t *testing.T) {
		env := newEnv(t)
		env.OnActivity(acts.FindUser, mock.Anything, mock.Anything).Return(user("ana@example.com", tableau.RoleExplorer), nil)
		env.OnActivity(acts.SetSiteRole, mock.Anything, activities.SetSiteRoleInput{UserID: "id-ana@example.com", Role: tableau.RoleUnlicensed, BasedOn: tableau.RoleExplorer}).
			Return(&tableau.User{SiteRole: tableau.RoleUnlicensed}, nil).Once()
		env.OnActivity(acts.UserGroups, mock.Anything, activities.UserGroupsInput{UserID: "id-ana@example.com"}).Return([]tableau.Group{
			{Name: "All Users"},
			{Name: "Sales (AD)", Import: &tableau.GroupImport{DomainName: "corp", SiteRole: tableau.RoleExplorer, GrantLicenseMode: "onLogin"}},
			{Name: "Viewers", MinimumSiteRole: tableau.RoleViewer},
		}, nil).Once()
		env.OnActivity(acts.OwnedContent, mock.Anything, mock.Anything).Return(activities.OwnedContent{
			Workbooks: tableau.Owned{Count: 2, Names: []string{"Q3 Sales", "Pipeline"}}, DataSources: tableau.Owned{Count: 1, Names: []string{"CRM"}},
		}, nil).Once()
		env.ExecuteWorkflow(workflows.DeprovisionWorkflow, workflows.DeprovisionInput{User: "ana@example.com", Role: "Explorer"})
		var res workflows.DeprovisionResult
		require.NoError(t, env.GetWorkflowResult(&res))
		assert.True(t, res.Changed)
		assert.Equal(t, "Unlicensed", res.Role)
		assert.Equal(t, "ana@example.com: site role Explorer → Unlicensed (access revoked; the user is kept). "+
			"ana@example.com still owns 2 workbooks (Q3 Sales, Pipeline), 1 data source (CRM): the content stays; hand it over in Tableau if needed", res.Message)
		assert.Equal(t, []string{`group "Sales (AD)" licenses its members as Explorer at sign-in: ana@example.com will be Explorer again at sign-in unless removed from the group (in its directory or identity provider)`,
			`group "Viewers" licenses its members as Viewer at sign-in: ana@example.com will be Viewer again at sign-in unless removed from the group (in its directory or identity provider)`}, res.Warnings)
		require.NotNil(t, res.Owned)
		assert.Equal(t, 2, res.Owned.Workbooks.Count)
		env.AssertExpectations(t)
	})
	t.Run("role mismatch", func(t *testing.T) {
		env := newEnv(t)
		ran := recordActivities(env)
		env.OnActivity(acts.FindUser, mock.Anything, mock.Anything).Return(user("ana@example.com", tableau.RoleCreator), nil)
		env.ExecuteWorkflow(workflows.DeprovisionWorkflow, workflows.DeprovisionInput{User: "ana@example.com", Role: "Explorer"})
		var res workflows.DeprovisionResult
		require.NoError(t, env.GetWorkflowResult(&res))
		assert.False(t, res.Changed)
		assert.Equal(t, "Creator", res.Role)
		assert.Contains(t, res.Message, "has site role Creator, not the revoked Explorer: left unchanged")
		assert.Equal(t, []string{"FindUser"}, *ran, "no update call")
	})
	t.Run("unknown user", func(t *testing.T) {
		env := newEnv(t)
		env.OnActivity(acts.FindUser, mock.Anything, mock.Anything).Return(activities.FindUserResult{}, nil)
		env.ExecuteWorkflow(workflows.DeprovisionWorkflow, workflows.DeprovisionInput{User: "ghost@example.com", Role: "Explorer"})
		var res workflows.DeprovisionResult
		require.NoError(t, env.GetWorkflowResult(&res))
		assert.False(t, res.Found)
		assert.Equal(t, `Tableau user "ghost@example.com" was not found on this site: nothing to revoke`, res.Message)
	})
}

func TestEveryWorkflowIsRegisteredUnderItsSpecName(t *testing.T) {
	want := []string{"Provision", "Deprovision", "HealthCheck", "UserAccess", "ListUsers", "GetUser", "SetSiteRole",
		"ServerInfo", "CurrentSession", "ListCollections", "SearchContent", "UsageStats", "TableauRequest", "PATLease", "PATLeaseV2", "Reconcile"}
	var got []string
	for name := range workflows.All {
		got = append(got, name)
	}
	assert.ElementsMatch(t, want, got)
	assert.Equal(t, "tableau", workflows.TaskQueue)
	assert.Equal(t, "tableau-access/tableau/ana@example.com", workflows.UserAccessWorkflowID(workflows.TaskQueue, " Ana@Example.com "))
}
