package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"tabflow/activities"
	"tabflow/workflows"
)

// reconcileEnv mocks three entities (ana Explorer, ben Creator until later,
// chloe none) and a site where ana and ben drifted and dora is unmanaged.
func reconcileEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *[]string) {
	env := newEnv(t)
	grants := func(gs ...workflows.Grant) json.RawMessage { b, _ := json.Marshal(gs); return b }
	soon := time.Now().Add(time.Hour)
	env.OnActivity(acts.ManagedUsers, mock.Anything, mock.Anything).Return(activities.ManagedUsersPage{Users: []activities.ManagedUser{
		{User: "ana@example.com", Grants: grants(workflows.Grant{Role: "Explorer"})},
		{User: "ben@example.com", Grants: grants(workflows.Grant{Role: "Viewer", Source: workflows.SourceTableau}, workflows.Grant{Role: "Creator", ExpiresAt: &soon})},
		{User: "chloe@example.com", Grants: grants()},
	}}, nil).Once()
	env.OnActivity(acts.SiteUsers, mock.Anything, activities.ReconcileUsersInput{PageNumber: 1, PageSize: 1000}).Return(activities.SiteUsersPage{Total: 5, Users: []activities.SiteUser{
		{Name: "Ana@example.com", Role: "Creator", LastLogin: "2026-01-01T00:00:00Z"}, // promoted by hand
		{Name: "ben@example.com", Role: "Viewer"},                                     // demoted by hand, never signed in
		{Name: "chloe@example.com", Role: "Unlicensed", LastLogin: "2026-11-01T00:00:00Z"},
		{Name: "dora@example.com", Role: "Explorer"},
		{Name: "eve@example.com", Role: "Unlicensed"},
	}}, nil).Once()
	var sent []string
	env.OnActivity(acts.SendToEntity, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SendToEntityInput) (json.RawMessage, error) {
		sent = append(sent, in.WorkflowID+" "+string(in.Event))
		return json.RawMessage(`{"outcome":"applied","message":"ok"}`), nil
	})
	return env, &sent
}

func TestReconcilePlanChangesNothing(t *testing.T) {
	env, sent := reconcileEnv(t)
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{InactiveDays: 90})
	var plan workflows.ReconcilePlan
	require.NoError(t, env.GetWorkflowResult(&plan))
	assert.Equal(t, []workflows.DriftChange{{User: "Ana@example.com", Expected: "Explorer", Actual: "Creator"}, {User: "ben@example.com", Expected: "Creator", Actual: "Viewer"}}, plan.Changes)
	assert.Equal(t, workflows.UnmanagedUsers{Count: 1, Users: []workflows.UserRole{{User: "dora@example.com", Role: "Explorer"}}}, plan.Unmanaged)
	require.Len(t, plan.Inactive, 2, "ana signed in long ago, ben never; chloe lately")
	assert.Equal(t, "ben@example.com", plan.Inactive[1].User)
	assert.Empty(t, *sent)
	assert.NotEmpty(t, plan.PlanID)
	assert.Contains(t, plan.Message, "2 users drifted from their grants; 1 user licensed without an entity")
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
	assert.Contains(t, appErr.Message(), "2 changes exceed maxChanges 1")
	assert.Empty(t, *sent, "nothing applied")
}

func TestReconcileAutoAppliesThroughTheEntities(t *testing.T) {
	env, sent := reconcileEnv(t)
	two := 2 // exactly as many as drifted
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{Mode: "auto", MaxChanges: &two})
	var plan workflows.ReconcilePlan
	require.NoError(t, env.GetWorkflowResult(&plan))
	assert.Equal(t, 2, plan.Applied)
	event := fmt.Sprintf(`{"op":"reconcile","requestId":%q}`, plan.PlanID)
	assert.Equal(t, []string{"tableau-access/default-test-taskqueue/ana@example.com " + event, "tableau-access/default-test-taskqueue/ben@example.com " + event}, *sent)
}

func TestReconcileApproveWaitsForThisPlansID(t *testing.T) {
	env, sent := reconcileEnv(t)
	var wrong error
	var shown workflows.ReconcilePlan
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.PlanQuery)
		require.NoError(t, err)
		require.NoError(t, v.Get(&shown))
		env.UpdateWorkflow(workflows.ApproveUpdate, "wrong", &testsuite.TestUpdateCallback{OnAccept: func() { t.Error("another plan's ID was accepted") },
			OnReject: func(err error) { wrong = err }, OnComplete: func(any, error) {}}, workflows.ApproveInput{PlanID: "someone-elses"})
		env.UpdateWorkflow(workflows.ApproveUpdate, "right", &testsuite.TestUpdateCallback{OnAccept: func() {},
			OnReject: func(err error) { t.Errorf("approval rejected: %v", err) }, OnComplete: func(any, error) {}}, workflows.ApproveInput{PlanID: shown.PlanID})
	}, time.Hour)
	env.ExecuteWorkflow(workflows.ReconcileWorkflow, workflows.ReconcileInput{Mode: "approve"})
	var plan workflows.ReconcilePlan
	require.NoError(t, env.GetWorkflowResult(&plan))
	require.Error(t, wrong)
	assert.Contains(t, wrong.Error(), "is not this run's plan")
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
