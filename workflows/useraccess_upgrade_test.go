package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// A run of the previous entity version (patch version 1) that gets a new
// workflow task after the upgrade hands its memory, and the event that woke
// it, to the current rules: it continues as new at once.
func TestUserAccessVersion2HandsOverToTheCurrentRules(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.env.OnGetVersion("access-entity-v2", workflow.DefaultVersion, 2).Return(workflow.Version(1))
	e.at(0, func() { e.signal(access("revoke", "Explorer", "T-1", "")) })
	grant := workflows.Grant{Role: "Explorer", RequestID: "T-1"}
	e.env.ExecuteWorkflow(workflows.UserAccessWorkflow, workflows.UserAccessInput{User: e.user, State: &workflows.UserAccessState{
		Seq: 1, Grants: []workflows.Grant{grant}, History: []workflows.AccessRecord{{Seq: 1, Op: "grant", Role: "Explorer", RequestID: "T-1", Outcome: "applied"}},
	}})
	next := continuedInput(t, e.env)
	assert.Equal(t, []workflows.Grant{grant}, next.State.Grants)
	require.Len(t, next.State.Pending, 1, "the waking event travels to the current rules, unapplied")
	assert.Equal(t, "T-1", next.State.Pending[0].Event.RequestID)
	assert.Zero(t, e.fake.Count("users:update"))

	// Under the current rules the revoke with the grant's ticket applies (version 2 called it a duplicate).
	e2 := newEntityTest(t, "ana@example.com")
	e2.fake.SetRole(faketableau.SandboxSite, "ana@example.com", "Explorer")
	e2.at(time.Hour, e2.forget)
	res := e2.run(next)
	assert.Equal(t, []string{"T-1:applied", "T-1:applied"}, outcomes(res.History))
	assert.Equal(t, "Unlicensed", e2.role())
}

// An entity with version 1's per-user ID that continued as new into the
// current code starts the per-site entity with its memory and ends.
func TestUserAccessLegacyEntityHandsItsMemoryToThePerSiteEntity(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "tableau-access/ana@example.com"})
	var started workflows.UserAccessInput
	var startedID string
	e.env.OnWorkflow(workflows.UserAccessWorkflow, mock.Anything, mock.Anything).Return(func(ctx workflow.Context, in workflows.UserAccessInput) (*workflows.UserAccessResult, error) {
		if id := workflow.GetInfo(ctx).WorkflowExecution.ID; id != "tableau-access/ana@example.com" {
			startedID, started = id, in // the per-site entity: it would run for ever here
			return &workflows.UserAccessResult{}, nil
		}
		return workflows.UserAccess(ctx, in)
	})
	memory := &workflows.UserAccessState{Seq: 3, Applied: []string{"x"}, Pending: []workflows.PendingEvent{{Event: access("grant", "Viewer", "p", "")}}}
	res := e.run(workflows.UserAccessInput{User: "ana@example.com", State: memory})
	assert.Equal(t, 3, res.Events)
	assert.Equal(t, workflows.UserAccessWorkflowID(testQueue, "ana@example.com"), startedID)
	assert.Equal(t, "ana@example.com", started.User)
	require.NotNil(t, started.State)
	assert.Equal(t, memory.Pending, started.State.Pending, "the per-site entity applies what the legacy one had not")
	assert.Zero(t, e.fake.Count("users:update"), "the legacy entity applies nothing itself")
}
