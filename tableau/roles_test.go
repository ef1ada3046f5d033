package tableau_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/tableau"
)

func TestParseProvisionableRole(t *testing.T) {
	for _, r := range []string{"Viewer", "Explorer", "ExplorerCanPublish", "Creator", "SiteAdministratorExplorer"} {
		got, err := tableau.ParseProvisionableRole(r)
		require.NoError(t, err)
		assert.Equal(t, tableau.SiteRole(r), got)
	}
	_, err := tableau.ParseProvisionableRole("explorer")
	assert.EqualError(t, err, `"explorer" is not a site role: did you mean "Explorer"? (role names are case-sensitive)`)
	_, err = tableau.ParseProvisionableRole("Unlicensed")
	assert.ErrorContains(t, err, "is not a site role tabflow can set: use one of Viewer, Explorer, ExplorerCanPublish, Creator, SiteAdministratorExplorer")
	_, err = tableau.ParseProvisionableRole("SiteAdministratorCreator")
	assert.Error(t, err, "only SiteAdministratorExplorer is provisionable among admin roles")
	_, err = tableau.ParseProvisionableRole("")
	assert.ErrorContains(t, err, "is required")

	got, err := tableau.ParseSettableRole("Unlicensed")
	require.NoError(t, err)
	assert.Equal(t, tableau.RoleUnlicensed, got)
}
