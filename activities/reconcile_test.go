package activities_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/mocks"
	sdktestsuite "go.temporal.io/sdk/testsuite"

	"tabflow/activities"
	"tabflow/tableau"
	"tabflow/testsuite"
)

// entities answers the expected query as the sandbox's access entities would:
// ben's grants call for Creator, chloe's for Viewer, dev's for Creator; ana's
// entity does not answer; the others have none.
func entities(t *testing.T) *mocks.Client {
	c := mocks.NewClient(t)
	role := func(r tableau.SiteRole) *mocks.Value {
		v := &mocks.Value{}
		v.On("Get", mock.Anything).Run(func(args mock.Arguments) { *args[0].(*tableau.SiteRole) = r }).Return(nil)
		return v
	}
	id := func(user string) string { return "tableau-access/tableau/" + user }
	c.On("QueryWorkflow", mock.Anything, id("ben@example.com"), "", "expected").Return(role("Creator"), nil)
	c.On("QueryWorkflow", mock.Anything, id("chloe@example.com"), "", "expected").Return(role("Viewer"), nil)
	c.On("QueryWorkflow", mock.Anything, id("dev@example.com"), "", "expected").Return(role("Creator"), nil)
	c.On("QueryWorkflow", mock.Anything, id("ana@example.com"), "", "expected").Return(nil, serviceerror.NewInvalidArgument("unknown queryType expected"))
	c.On("QueryWorkflow", mock.Anything, mock.Anything, "", "expected").Return(nil, serviceerror.NewNotFound("no such workflow"))
	return c
}

func compare(t *testing.T, in activities.CompareUsersInput) activities.UsersComparison {
	fake := testsuite.StartTableau(t)
	var s sdktestsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(&activities.Activities{Tableau: fake.Client(t, fake.PATConfig()), Temporal: entities(t)})
	in.PageNumber, in.PageSize, in.IDPrefix, in.RoleQuery = 1, 100, "tableau-access/tableau/", "expected"
	v, err := env.ExecuteActivity((&activities.Activities{}).CompareUsers, in)
	require.NoError(t, err)
	var out activities.UsersComparison
	require.NoError(t, v.Get(&out))
	return out
}

func TestCompareUsersAgainstTheEntities(t *testing.T) {
	out := compare(t, activities.CompareUsersInput{ListDrift: 10, ListOthers: 10, InactiveBy: "2026-11-01T00:00:00Z"})
	assert.Equal(t, 7, out.Total)
	assert.Equal(t, 7, out.Read)
	assert.Equal(t, 3, out.Managed, "ben, chloe, dev")
	require.Len(t, out.Drift, 2)
	assert.Equal(t, activities.ComparedUser{Name: "ben@example.com", Role: "Viewer", Expected: "Creator", LastLogin: "2026-10-15T12:00:00Z"}, out.Drift[0], "a promotion needs no licensing read")
	chloe := out.Drift[1]
	assert.Equal(t, tableau.SiteRole("Viewer"), chloe.Expected)
	require.NotNil(t, chloe.Licensing, "a demotion: what may undo it is read")
	require.Len(t, chloe.Licensing.Groups, 1)
	assert.Equal(t, "Sales (AD)", chloe.Licensing.Groups[0].Name)
	assert.Equal(t, 2, out.UnmanagedCount, "the administrator and the viewer; newhire is unlicensed")
	assert.Equal(t, []string{"admin@example.com", "viewer@example.com"}, []string{out.Unmanaged[0].Name, out.Unmanaged[1].Name})
	assert.Equal(t, 3, out.InactiveCount, "managed users who last signed in before the cut-off")
	assert.Equal(t, 1, out.ErrorCount)
	require.Len(t, out.Errors, 1)
	assert.Contains(t, out.Errors[0], "ana@example.com: could not ask its access entity for its grants: unknown queryType expected")
}

// Past what the plan still lists, users are only counted: a site of any
// size adds little to Reconcile's history.
func TestCompareUsersListsOnlyWhatThePlanStillShows(t *testing.T) {
	out := compare(t, activities.CompareUsersInput{ListDrift: 1, ListOthers: 0})
	assert.Equal(t, 2, out.DriftCount)
	assert.Len(t, out.Drift, 1)
	assert.Equal(t, 2, out.UnmanagedCount)
	assert.Empty(t, out.Unmanaged)
	assert.Equal(t, 1, out.ErrorCount)
	assert.Empty(t, out.Errors)
}
