package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/tableau"
	"tabflow/workflows"
)

// reconcileEnv mocks a site of one page where ana (Explorer by her grants)
// was promoted by hand, ben (Creator) demoted, chloe matches, dora has no
// entity, and eve's entity did not answer; three entities run.
func reconcileEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *[]string) {
	env := newEnv(t)
	env.OnActivity(acts.CountEntities, mock.Anything, activities.CountEntitiesInput{TaskQueue: "default-test-taskqueue", IDPrefix: "tableau-access/default-test-taskqueue/"}).Return(4, nil).Once()
	env.OnActivity(acts.CompareUsers, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CompareUsersInput) (activities.UsersComparison, error) {
		assert.Equal(t, 1, in.PageNumber)
		assert.Equal(t, "tableau-access/default-test-taskqueue/", in.IDPrefix)
		assert.Equal(t, workflows.ExpectedQuery, in.RoleQuery)
		return activities.UsersComparison{Total: 5, Read: 5, Managed: 3, DriftCount: 2, Drift: []activities.ComparedUser{
			{Name: "Ana@example.com", Role: "Creator", Expected: "Explorer", Licensing: &activities.Licensing{
				User:   tableau.User{Name: "Ana@example.com", SiteRole: "Creator"},
				Groups: []tableau.Group{{Name: "Sales (AD)", Import: &tableau.GroupImport{SiteRole: "Creator", GrantLicenseMode: "onLogin"}}}}},
			{Name: "ben@example.com", Role: "Viewer", Expected: "Creator"},
		}, UnmanagedCount: 1, Unmanaged: []activities.ComparedUser{{Name: "dora@example.com", Role: "Explorer"}},
			InactiveCount: 1, Inactive: []activities.ComparedUser{{Name: "ben@example.com", Role: "Viewer"}},
			ErrorCount: 1, Errors: []string{"eve@example.com: could not ask its access entity for its grants: unknown query type expected"}}, nil
	}).Once()
	var sent []string
	env.OnActivity(acts.SendToEntity, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SendToEntityInput) (json.RawMessage, error) {
		sent = append(sent, in.WorkflowID+" "+string(in.Event))
		if strings.HasSuffix(in.WorkflowID, "/ana@example.com") { // what the entity read as it demoted her
			return json.RawMessage(`{"outcome":"applied","message":"ok","warnings":["group \"Sales (AD)\" licenses its members as Creator at sign-in (read at apply)"]}`), nil
		}
		return json.RawMessage(`{"outcome":"applied","message":"ok"}`), nil
	})
	return env, &sent
}

func TestReconcilePlanChangesNothing(t *testing.T) {
	env, sent := reconcileEnv(t)
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{InactiveDays: 90})
	var plan workflows.ReconcilePlan
	require.NoError(t, env.GetWorkflowResult(&plan))
	require.Len(t, plan.Changes, 2)
	assert.Equal(t, workflows.DriftChange{User: "ben@example.com", Expected: "Creator", Actual: "Viewer"}, plan.Changes[1])
	require.Len(t, plan.Changes[0].Warnings, 1, "ana's demotion: the group licenses her as Creator at sign-in")
	assert.Contains(t, plan.Changes[0].Warnings[0], `group "Sales (AD)" licenses its members as Creator at sign-in`)
	assert.Equal(t, 2, plan.Drifted)
	assert.Equal(t, workflows.UnmanagedUsers{Count: 1, Users: []workflows.UserRole{{User: "dora@example.com", Role: "Explorer"}}}, plan.Unmanaged)
	assert.Equal(t, []workflows.InactiveUser{{User: "ben@example.com", Role: "Viewer"}}, plan.Inactive)
	assert.Equal(t, []string{"eve@example.com: could not ask its access entity for its grants: unknown query type expected"}, plan.Errors)
	assert.Empty(t, *sent)
	assert.NotEmpty(t, plan.PlanID)
	assert.Contains(t, plan.Message, "1 user licensed without an entity (reported, never changed); 1 user inactive since")
	assert.Contains(t, plan.Message, "1 user not compared: their entities did not answer (see errors)")
	assert.Contains(t, plan.Message, "2 users drifted from their grants; 1 change with warnings: a group or an identity provider may undo them (see each change)", "the run's current details in the UI say a demotion may be undone")
	assert.NotContains(t, plan.Message, "not on the site", "4 entities: 3 compared and 1 that did not answer")
	assert.Contains(t, plan.Message, "Plan only: nothing changed")
}

func TestReconcileAutoRefusesMoreThanMaxChanges(t *testing.T) {
	env, sent := reconcileEnv(t)
	one := 1
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{Mode: "auto", MaxChanges: &one})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	assert.Equal(t, workflows.ErrTooManyChanges, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Message(), "2 changes, more than maxChanges 1")
	assert.Empty(t, *sent, "nothing applied")
}

func TestReconcileAutoAppliesThroughTheEntities(t *testing.T) {
	env, sent := reconcileEnv(t)
	two := 2 // exactly as many as drifted
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{Mode: "auto", MaxChanges: &two})
	var plan workflows.ReconcilePlan
	require.NoError(t, env.GetWorkflowResult(&plan))
	assert.Equal(t, 2, plan.Applied)
	event := func(expected, actual string) string {
		return fmt.Sprintf(`{"op":"reconcile","requestId":%q,"expected":%q,"actual":%q}`, plan.PlanID, expected, actual)
	}
	assert.Equal(t, []string{"tableau-access/default-test-taskqueue/ana@example.com " + event("Explorer", "Creator"),
		"tableau-access/default-test-taskqueue/ben@example.com " + event("Creator", "Viewer")}, *sent, "each entity is told exactly what was approved")
	assert.Equal(t, []string{`group "Sales (AD)" licenses its members as Creator at sign-in (read at apply)`}, plan.Changes[0].Warnings,
		"the result carries what the entity warned as it applied ana's demotion")
	assert.Empty(t, plan.Changes[1].Warnings)
	assert.Contains(t, plan.Message, "Applied 2 of 2 changes through the entities (1 change with warnings: a group or an identity provider may undo them, see each change)")
}

func TestReconcileApproveWaitsForThisPlansID(t *testing.T) {
	env, sent := reconcileEnv(t)
	var wrong, empty, typo error
	var shown workflows.ReconcilePlan
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.PlanQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&shown))
		env.UpdateWorkflow(workflows.ApproveUpdate, "wrong", &testsuite.TestUpdateCallback{OnAccept: func() { t.Error("another plan's ID was accepted") },
			OnReject: func(err error) { wrong = err }, OnComplete: func(any, error) {}}, workflows.ApproveInput{PlanID: "someone-elses"})
		env.UpdateWorkflow(workflows.ApproveUpdate, "empty", &testsuite.TestUpdateCallback{OnAccept: func() { t.Error("an empty planId was accepted") },
			OnReject: func(err error) { empty = err }, OnComplete: func(any, error) {}}, workflows.ApproveInput{})
		env.UpdateWorkflow(workflows.ApproveUpdate, "typo", &testsuite.TestUpdateCallback{OnAccept: func() { t.Error("an unknown field was accepted") },
			OnReject: func(err error) { typo = err }, OnComplete: func(any, error) {}}, map[string]string{"planID": shown.PlanID})
		env.UpdateWorkflow(workflows.ApproveUpdate, "right", &testsuite.TestUpdateCallback{OnAccept: func() {},
			OnReject: func(err error) { t.Errorf("approval rejected: %v", err) }, OnComplete: func(any, error) {}}, workflows.ApproveInput{PlanID: shown.PlanID})
	}, time.Hour)
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{Mode: "approve"})
	var plan workflows.ReconcilePlan
	require.NoError(t, env.GetWorkflowResult(&plan))
	require.Error(t, wrong)
	assert.Contains(t, wrong.Error(), `planId "someone-elses" is not the plan this run waits for: query plan`)
	assert.NotContains(t, wrong.Error(), shown.PlanID, "a refusal does not hand out the plan to approve")
	require.Error(t, empty)
	assert.Contains(t, empty.Error(), "planId is required")
	require.Error(t, typo)
	assert.Contains(t, typo.Error(), "planID: unknown field")
	assert.Len(t, shown.Changes, 2, "the plan query shows the plan while it waits")
	assert.Equal(t, 2, plan.Applied)
	assert.Len(t, *sent, 2)
}

func TestReconcileApproveTimesOutApplyingNothing(t *testing.T) {
	env, sent := reconcileEnv(t)
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{Mode: "approve", ApproveWithin: "2h"})
	var plan workflows.ReconcilePlan
	require.NoError(t, env.GetWorkflowResult(&plan))
	assert.Contains(t, plan.Message, "Not approved within 2h0m0s: nothing applied")
	assert.Empty(t, *sent)
	assert.Zero(t, plan.Applied)
}

func TestReconcileBadInput(t *testing.T) {
	neg := -1
	for _, c := range []struct {
		in   workflows.ReconcileInput
		want string
	}{
		{workflows.ReconcileInput{Mode: "yolo"}, `mode "yolo" must be plan, approve or auto`},
		{workflows.ReconcileInput{MaxChanges: &neg}, "maxChanges must not be negative"},
		{workflows.ReconcileInput{InactiveDays: -3}, "inactiveDays must not be negative"},
		{workflows.ReconcileInput{ApproveWithin: "soon"}, `approveWithin "soon" must be a positive Go duration`},
		{workflows.ReconcileInput{ApproveWithin: "-1h"}, `approveWithin "-1h" must be a positive Go duration`},
	} {
		env := newEnv(t)
		env.ExecuteWorkflow(workflows.ReconcileWorkflow, c.in)
		assert.ErrorContains(t, env.GetWorkflowError(), c.want)
	}
}

// siteOfPages mocks CompareUsers for a site of n pages of 1,000 users, each
// with 600 drifted (all listed when asked), and counts the pages read.
func siteOfPages(env *testsuite.TestWorkflowEnvironment, n int, pages *[]int) {
	env.OnActivity(acts.CountEntities, mock.Anything, mock.Anything).Return(n*1000, nil)
	env.OnActivity(acts.CompareUsers, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CompareUsersInput) (activities.UsersComparison, error) {
		*pages = append(*pages, in.PageNumber)
		c := activities.UsersComparison{Total: n * 1000, Read: 1000, Managed: 1000, DriftCount: 600}
		for i := range min(600, in.ListDrift) {
			c.Drift = append(c.Drift, activities.ComparedUser{Name: fmt.Sprintf("u%d-%d@example.com", in.PageNumber, i), Role: "Creator", Expected: "Viewer"})
		}
		return c, nil
	})
}

// Issue 24, defect 5: auto compares maxChanges with every drifted user, not
// with the 1,000 the plan lists (main applied 1,000 of 50,000).
func TestReconcileAutoCountsEveryDriftedUser(t *testing.T) {
	env := newEnv(t)
	var pages []int
	siteOfPages(env, 3, &pages)
	limit := 1000
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{Mode: "auto", MaxChanges: &limit})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr), "%v", env.GetWorkflowError())
	assert.Equal(t, workflows.ErrTooManyChanges, appErr.Type())
	assert.Contains(t, appErr.Message(), "1800 changes, more than maxChanges 1000")
	assert.Equal(t, []int{1, 2, 3}, pages)
}

// A site of any size: Reconcile continues as new every 100 pages with the
// plan so far, which stays bounded (1,000 changes listed, every drift
// counted), and keeps the first run's plan ID.
func TestReconcileContinuesAsNewWithABoundedPlan(t *testing.T) {
	env := newEnv(t)
	var pages []int
	siteOfPages(env, 250, &pages) // 250,000 users
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "%v", env.GetWorkflowError())
	var next workflows.ReconcileInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Progress)
	assert.Len(t, pages, 100, "one run compares 100 pages")
	assert.Equal(t, 101, next.Progress.NextPage)
	assert.Equal(t, 60_000, next.Progress.Plan.Drifted)
	assert.Len(t, next.Progress.Plan.Changes, 1000)
	size, err := json.Marshal(next)
	require.NoError(t, err)
	t.Logf("continue-as-new input after 100,000 users: %d bytes", len(size))
	assert.Less(t, len(size), 256<<10)

	for next.Progress.NextPage < 250 { // the runs that follow
		env = newEnv(t)
		siteOfPages(env, 250, &pages)
		env.ExecuteWorkflow(workflows.ReconcileWorkflow, next)
		if errors.As(env.GetWorkflowError(), &can) {
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			continue
		}
		var plan workflows.ReconcilePlan
		require.NoError(t, env.GetWorkflowResult(&plan))
		assert.Equal(t, 150_000, plan.Drifted)
		assert.Len(t, plan.Changes, 1000)
		assert.Equal(t, "default-test-run-id", plan.PlanID, "the first run's ID")
		assert.Contains(t, plan.Message, "150,000 users drifted from their grants; the first 1,000 are listed")
		break
	}
	assert.Len(t, pages, 250)
}

// A site with no drift reads [] (not null) for its changes and inactive
// users in the raw result, as starter --json prints them.
func TestReconcileEmptyListsAreEmptyNotNull(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.CountEntities, mock.Anything, mock.Anything).Return(1, nil)
	env.OnActivity(acts.CompareUsers, mock.Anything, mock.Anything).Return(activities.UsersComparison{Total: 1, Read: 1, Managed: 1}, nil)
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{})
	var raw json.RawMessage
	require.NoError(t, env.GetWorkflowResult(&raw))
	assert.Contains(t, string(raw), `"changes":[]`)
	assert.Contains(t, string(raw), `"inactive":[]`)
}

// While an approved or automatic plan is applied, the UI's current details
// say so (the plan query shows applied 0 until each entity answers).
func TestReconcileSaysWhileItApplies(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(acts.CountEntities, mock.Anything, mock.Anything).Return(1, nil)
	env.OnActivity(acts.CompareUsers, mock.Anything, mock.Anything).Return(activities.UsersComparison{Total: 1, Read: 1, Managed: 1, DriftCount: 1,
		Drift: []activities.ComparedUser{{Name: "ben@example.com", Role: "Viewer", Expected: "Creator"}}}, nil)
	env.OnActivity(acts.SendToEntity, mock.Anything, mock.Anything).Return(json.RawMessage(`{"outcome":"applied","message":"ok"}`), nil).After(time.Minute)
	var during string
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow("__temporal_workflow_metadata")
		require.NoError(t, err)
		var meta sdkpb.WorkflowMetadata
		require.NoError(t, v.Get(&meta))
		during = meta.GetCurrentDetails()
	}, 30*time.Second)
	one := 1
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{Mode: workflows.ReconcileAuto, MaxChanges: &one})
	var plan workflows.ReconcilePlan
	require.NoError(t, env.GetWorkflowResult(&plan))
	assert.Contains(t, during, "Applying 1 change through the entities…")
	assert.Contains(t, plan.Message, "Applied 1 of 1 change through the entities")
}
