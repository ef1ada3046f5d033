package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

func reconcileEvent(planID, expected, actual string) workflows.AccessEvent {
	return workflows.AccessEvent{Op: workflows.OpReconcile, RequestID: planID, Expected: expected, Actual: actual}
}

// An approved change is applied exactly (SPEC §3.2): only while Tableau
// still shows the plan's actual role and the grants still call for its
// expected one; a plan applied twice changes nothing more.
func TestUserAccessReconcileAppliesExactlyWhatWasApproved(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var demoted, again, invalid workflows.AccessRecord
	var refused error
	e.signalEach(access("grant", "Explorer", "g1", ""))
	e.at(time.Minute, func() { e.fake.SetRole(faketableau.SandboxSite, e.user, "Creator") }) // promoted by hand
	e.at(2*time.Minute, func() { e.update(reconcileEvent("plan-1", "Explorer", "Creator"), &demoted, nil) })
	e.at(3*time.Minute, func() { e.update(reconcileEvent("plan-1", "Explorer", "Creator"), &again, nil) })
	e.at(4*time.Minute, func() {
		e.update(workflows.AccessEvent{Op: workflows.OpReconcile, Role: "Viewer", RequestID: "p", Expected: "Viewer", Actual: "Creator"}, nil, &refused)
		e.update(workflows.AccessEvent{Op: workflows.OpReconcile, RequestID: "q"}, &invalid, &refused)
	})
	e.at(time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeApplied, demoted.Outcome, demoted.Message)
	assert.Equal(t, "Explorer", demoted.Role)
	assert.Equal(t, "Creator", demoted.RoleBefore)
	assert.Contains(t, demoted.Message, "reconcile (plan plan-1, Creator → Explorer): ana@example.com: site role Creator → Explorer")
	assert.Equal(t, workflows.OutcomeDuplicate, again.Outcome)
	assert.Equal(t, "Explorer", e.role())
	require.Error(t, refused)
	assert.Contains(t, refused.Error(), "expected is required with reconcile")
}

// Issue 24, defect 4: a plan said "ana: expected Explorer, actual Creator";
// an admin then made her SiteAdministratorCreator. The approval must not
// demote what nobody reviewed.
func TestUserAccessReconcileLeavesAChangeNobodyReviewed(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var rec workflows.AccessRecord
	e.signalEach(access("grant", "Explorer", "g1", ""))
	e.at(time.Minute, func() { e.fake.SetRole(faketableau.SandboxSite, e.user, "SiteAdministratorCreator") })
	e.at(2*time.Minute, func() { e.update(reconcileEvent("plan-1", "Explorer", "Creator"), &rec, nil) })
	e.at(time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeStale, rec.Outcome, rec.Message)
	assert.Contains(t, rec.Message, "Tableau shows SiteAdministratorCreator, not the planned Creator: nothing changed")
	assert.Equal(t, "SiteAdministratorCreator", e.role())
}

// Issue 24, defect 4: after a revoke in the approval window, the grants no
// longer call for the plan's expected role: nothing changes (main took a
// Creator to Unlicensed here).
func TestUserAccessReconcileAfterARevokeChangesNothing(t *testing.T) {
	e := newEntityTest(t, "ana@example.com")
	var rec workflows.AccessRecord
	e.signalEach(access("grant", "Explorer", "g1", ""), access("grant", "Viewer", "g2", ""))
	e.at(2*time.Minute, func() { e.fake.SetRole(faketableau.SandboxSite, e.user, "Creator") }) // drift, planned: Creator → Explorer
	e.at(3*time.Minute, func() { e.signal(access("revoke", "Explorer", "r1", "")) })           // Tableau shows Creator: unchanged
	e.at(4*time.Minute, func() { e.update(reconcileEvent("plan-1", "Explorer", "Creator"), &rec, nil) })
	e.at(time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeStale, rec.Outcome, rec.Message)
	assert.Contains(t, rec.Message, "the grants now call for Viewer, not the approved Explorer: nothing changed")
	assert.Equal(t, "Creator", e.role(), "left for the next plan to show")
}

// The baseline counts as a grant: drift below it is restored.
func TestUserAccessReconcileRestoresTheBaseline(t *testing.T) {
	e := newEntityTest(t, "dev@example.com") // Creator in Tableau
	var rec workflows.AccessRecord
	e.signalEach(access("grant", "Viewer", "g", ""))
	e.at(time.Minute, func() { e.fake.SetRole(faketableau.SandboxSite, e.user, "Viewer") })
	e.at(2*time.Minute, func() { e.update(reconcileEvent("plan", "Creator", "Viewer"), &rec, nil) })
	e.at(time.Hour, e.forget)
	e.run(workflows.UserAccessInput{})
	assert.Equal(t, workflows.OutcomeApplied, rec.Outcome, rec.Message)
	assert.Equal(t, "Creator", e.role())
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
