package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/tableau"
)

// licensingPatch marks the reads before and after a lowered role (groups
// that license at sign-in, content the user owns): runs started before it
// replay without them.
const licensingPatch = "licensing-checks"

// Revokes that will not stick are said so (SPEC §3.1): before a role is
// lowered, the user's groups are read. A group that licenses its members at
// sign-in or sync above the new role, or an identity provider that manages
// the user, would undo the change; the warnings name them. They never stop
// the change.

func licensingChecks(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, licensingPatch, workflow.DefaultVersion, 1) == 1
}

// lowerWarnings reads u's groups if the role is about to go from u's down to
// next, and says what would undo it.
func lowerWarnings(ctx workflow.Context, u *tableau.User, next tableau.SiteRole) []string {
	if tableau.RoleRank(next) >= tableau.RoleRank(u.SiteRole) || !licensingChecks(ctx) {
		return nil
	}
	var groups []tableau.Group
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, accessActivity), a.UserGroups, activities.UserGroupsInput{UserID: u.ID}).Get(ctx, &groups)
	return licensingWarnings(u, groups, err, next)
}

// licensingWarnings is the rule, in plain Go.
func licensingWarnings(u *tableau.User, groups []tableau.Group, readErr error, next tableau.SiteRole) []string {
	var out []string
	if readErr != nil {
		out = append(out, fmt.Sprintf("could not read the user's groups (%s): a group that licenses at sign-in may undo this change", capText(activities.RootMessage(readErr), 200)))
	}
	for _, g := range groups {
		role := g.LicensingRole()
		if tableau.RoleRank(role) <= tableau.RoleRank(next) {
			continue
		}
		how := "at sign-in"
		if g.Import != nil && g.Import.GrantLicenseMode == "onSync" {
			how = "at the next sync"
		}
		out = append(out, fmt.Sprintf("group %q licenses its members as %s %s: %s will be %s again %s unless removed from the group (in its directory or identity provider)",
			capText(g.Name, 100), role, how, u.Name, role, how))
	}
	if u.IdpConfigurationID != "" {
		out = append(out, fmt.Sprintf("an identity provider manages %s (idpConfigurationId %s, authSetting %s): with SCIM provisioning on, it may set the role back",
			u.Name, capText(u.IdpConfigurationID, 64), u.AuthSetting))
	}
	return out
}

// ownedContent names what a user who just became Unlicensed still owns: the
// content stays (Tableau allows it) and an admin may want to hand it over.
func ownedContent(ctx workflow.Context, u *tableau.User) (*activities.OwnedContent, string) {
	var owned activities.OwnedContent
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, accessActivity), a.OwnedContent, activities.OwnedContentInput{UserID: u.ID, Name: u.Name, FullName: u.FullName}).Get(ctx, &owned)
	if err != nil {
		return nil, fmt.Sprintf("could not read what %s owns (%s)", u.Name, capText(activities.RootMessage(err), 200))
	}
	var parts []string
	for _, kind := range []struct {
		o    tableau.Owned
		name string
	}{{owned.Workbooks, "workbook"}, {owned.DataSources, "data source"}, {owned.Flows, "flow"}} {
		if kind.o.Count == 0 {
			continue
		}
		part := fmt.Sprintf("%d %s", kind.o.Count, kind.name)
		if kind.o.Count != 1 {
			part += "s"
		}
		parts = append(parts, part+" ("+strings.Join(kind.o.Names, ", ")+")")
	}
	if len(parts) == 0 {
		return &owned, ""
	}
	return &owned, fmt.Sprintf("%s still owns %s: the content stays; hand it over in Tableau if needed", u.Name, strings.Join(parts, ", "))
}
