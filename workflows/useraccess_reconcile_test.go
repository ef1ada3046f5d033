package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

func reconcileEvent(planID string) workflows.AccessEvent {
	return workflows.AccessEvent{Op: workflows.OpReconcile, RequestID: planID}
}

// The reconcile op sets the role the grants call for, only if Tableau still
// shows another, and records it; a plan applied twice changes nothing more.
func TestUserAccessReconcileRestoresTheGrantedRole(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var demoted, again, stale workflows.AccessRecord
	var invalid error
	e.signalEach(access("grant", "Explorer", "g1", ""))
	e.at(time.Minute, func() { e.fake.SetRole(faketableau.SandboxSite, e.user, "Creator") }) // promoted by hand
	e.at(2*time.Minute, func() { e.update(reconcileEvent("plan-1"), &demoted, nil) })
	e.at(3*time.Minute, func() { e.update(reconcileEvent("plan-1"), &again, nil) })
	e.at(4*time.Minute, func() {
		e.update(reconcileEvent("plan-2"), &stale, nil) // made when ana drifted, applied after the fix
		e.update(workflows.AccessEvent{Op: workflows.OpReconcile, Role: "Viewer", RequestID: "p"}, nil, &invalid)
	})
	e.at(time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeApplied, demoted.Outcome, demoted.Message)
	assert.Equal(t, "Explorer", demoted.Role)
	assert.Equal(t, "Creator", demoted.RoleBefore)
	assert.Contains(t, demoted.Message, "reconcile (plan plan-1): ana@example.com: site role Creator → Explorer")
	assert.Equal(t, workflows.OutcomeDuplicate, again.Outcome)
	assert.Equal(t, workflows.OutcomeUnchanged, stale.Outcome, "Tableau already matches: a stale plan changes nothing")
	assert.Equal(t, "Explorer", e.role())
	require.Error(t, invalid)
	assert.Contains(t, invalid.Error(), "role is not given with reconcile")
}

// A revoke for a member of a group that licenses at sign-in is carried out,
// and says the group will undo it.
func TestUserAccessRevokeNamesTheGroupThatWillUndoIt(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	e.fake.AddGroup(faketableau.SandboxSite, faketableau.Group{Name: "Sales (AD)", DomainName: "corp", SiteRole: "Explorer", GrantLicenseMode: "onLogin"}, "ana@example.com")
	var rec workflows.AccessRecord
	e.signalEach(access("grant", "Creator", "g", ""))
	e.at(time.Minute, func() { e.update(access("revoke", "Creator", "r", ""), &rec, nil) })
	e.at(time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeApplied, rec.Outcome)
	assert.Equal(t, "Unlicensed", e.role(), "the revoke is still carried out")
	require.Len(t, rec.Warnings, 1)
	assert.Contains(t, rec.Warnings[0], `group "Sales (AD)" licenses its members as Explorer at sign-in`)
}

// Deprovision of a content owner names what she owns.
func TestDeprovisionNamesOwnedContentAgainstTheFake(t *testing.T) {
	env, fake := realEnv(t)
	for _, c := range []faketableau.Content{
		{Type: "workbook", Title: "Q3 Sales", OwnerName: "chloe@example.com"},
		{Type: "workbook", Title: "Pipeline", OwnerName: "chloe@example.com"},
		{Type: "workbook", Title: "Not hers", OwnerName: "ben@example.com"},
		{Type: "datasource", Title: "CRM", OwnerName: "chloe@example.com"},
	} {
		fake.AddContent(faketableau.SandboxSite, c)
	}
	env.ExecuteWorkflow(workflows.DeprovisionWorkflow, workflows.DeprovisionInput{User: "chloe@example.com", Role: "Explorer"})
	var res workflows.DeprovisionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Contains(t, res.Message, "chloe@example.com still owns 2 workbooks (Q3 Sales, Pipeline), 1 data source (CRM)")
	require.NotNil(t, res.Owned)
	assert.Equal(t, 0, res.Owned.Flows.Count)
	require.Len(t, res.Warnings, 1, "the sandbox's Sales (AD) group licenses chloe at sign-in")
	assert.Contains(t, res.Warnings[0], `group "Sales (AD)" licenses its members as Explorer at sign-in`)
}

// Access given in Tableau counts: a hand demotion of a user whose baseline
// is Creator is restored to Creator, not to the lower grant.
func TestUserAccessReconcileRestoresTheBaseline(t *testing.T) {
	e := newEntityTest(t, "dev@example.com") // Creator in Tableau
	var rec workflows.AccessRecord
	e.signalEach(access("grant", "Viewer", "g", ""))
	e.at(time.Minute, func() { e.fake.SetRole(faketableau.SandboxSite, e.user, "Viewer") })
	e.at(2*time.Minute, func() { e.update(reconcileEvent("plan"), &rec, nil) })
	e.at(time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeApplied, rec.Outcome, rec.Message)
	assert.Equal(t, "Creator", e.role())
}

// Content that names its owner by display name (the sandbox's "Dev Patel")
// is found too: the ownerName filter is tried with the user name, then the
// display name.
func TestDeprovisionFindsContentOwnedUnderTheDisplayName(t *testing.T) {
	env, _ := realEnv(t)
	env.ExecuteWorkflow(workflows.DeprovisionWorkflow, workflows.DeprovisionInput{User: "dev@example.com", Role: "Creator"})
	var res workflows.DeprovisionResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Contains(t, res.Message, "dev@example.com still owns 1 workbook (Sales Forecast), 1 data source (Sales (extract))")
}
