package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"tabflow/activities"
	"tabflow/workflows"
)

// Started from the Temporal UI with the input box left empty, a workflow
// gets no payload at all: HealthCheck must still run.
func TestHealthCheckWithNoInputAtAll(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.CheckConnection, mock.Anything).Return(connOK...)
	env.OnActivity(acts.CheckSessionSite, mock.Anything).Return(siteOK...)
	env.OnActivity(acts.CheckContentAccess, mock.Anything).Return(contentOK...)
	env.OnActivity(acts.CheckUserScope, mock.Anything, activities.UserScopeInput{SiteID: "site-luid"}).Return(scopeOK...)
	env.ExecuteWorkflow(workflows.HealthCheckWorkflow)
	var res workflows.HealthCheckResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.True(t, res.OK)
}
