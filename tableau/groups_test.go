package tableau_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/tableau"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
)

// A user in more groups than one page holds gets every group, and the ones
// that license at sign-in say so.
func TestUserGroupsPagesAndLicensingRoles(t *testing.T) {
	fake := testsuite.StartTableau(t)
	for i := range 1001 {
		fake.AddGroup(faketableau.SandboxSite, faketableau.Group{Name: fmt.Sprint("g", i)}, "ben@example.com")
	}
	fake.AddGroup(faketableau.SandboxSite, faketableau.Group{Name: "min", MinimumSiteRole: "Explorer"}, "ben@example.com")
	ben, ok := fake.UserByName(faketableau.SandboxSite, "ben@example.com")
	require.True(t, ok)
	inSession(t, fake, func(ctx context.Context, s *tableau.Session) {
		groups, err := s.UserGroups(ctx, ben.ID)
		require.NoError(t, err)
		assert.Len(t, groups, 1002, "two pages")
		assert.Equal(t, tableau.RoleExplorer, groups[1001].LicensingRole())
		assert.Equal(t, tableau.SiteRole(""), groups[0].LicensingRole())
		_, err = s.UserGroups(ctx, "not-a-luid")
		assert.Error(t, err, "IDs are checked before any request")
	})
	sales := tableau.Group{Import: &tableau.GroupImport{SiteRole: tableau.RoleCreator, GrantLicenseMode: "onLogin"}}
	assert.Equal(t, tableau.RoleCreator, sales.LicensingRole())
	sales.Import.GrantLicenseMode = "onSync"
	assert.Equal(t, tableau.RoleCreator, sales.LicensingRole())
	sales.Import.GrantLicenseMode = "onDemand"
	assert.Equal(t, tableau.SiteRole(""), sales.LicensingRole(), "a group that licenses nobody at sign-in")
}

// A short page ends the listing even when the total Tableau announced is
// larger: a server that miscounts is not paged a hundred times.
func TestUserGroupsStopAtAShortPage(t *testing.T) {
	fake := testsuite.StartTableau(t)
	ben, ok := fake.UserByName(faketableau.SandboxSite, "ben@example.com")
	require.True(t, ok)
	fake.Inject(faketableau.Fault{Method: "GET", PathContains: "/groups", Status: 200,
		Body: `{"pagination":{"pageNumber":"1","pageSize":"1000","totalAvailable":"5000"},"groups":{"group":[{"id":"g1","name":"One"},{"id":"g2","name":"Two"}]}}`})
	inSession(t, fake, func(ctx context.Context, s *tableau.Session) {
		groups, err := s.UserGroups(ctx, ben.ID)
		require.NoError(t, err)
		assert.Len(t, groups, 2)
	})
	assert.Equal(t, 1, fake.Count("users:groups"), "one page asked for")
}

// Owned content is counted past the names listed.
func TestOwnedContentCountsBeyondTheNamesListed(t *testing.T) {
	fake := testsuite.StartTableau(t)
	for i := range 12 {
		fake.AddContent(faketableau.SandboxSite, faketableau.Content{Type: "flow", Title: fmt.Sprint("flow", i), OwnerName: "ben@example.com"})
	}
	ben, _ := fake.UserByName(faketableau.SandboxSite, "ben@example.com")
	inSession(t, fake, func(ctx context.Context, s *tableau.Session) {
		wb, ds, fl, err := s.OwnedContent(ctx, ben.ID, ben.Name, ben.FullName)
		require.NoError(t, err)
		assert.Zero(t, wb.Count)
		assert.Zero(t, ds.Count)
		assert.Equal(t, 12, fl.Count)
		assert.Len(t, fl.Names, 10, "ten names at most")
	})
}
