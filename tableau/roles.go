package tableau

import (
	"fmt"
	"slices"
	"strings"

	"tabflow/internal/clip"
)

// SiteRole is a Tableau site role as the REST API spells it.
type SiteRole string

// Roles that tabflow provisions (SPEC §3): an upstream role name must be
// exactly one of these.
const (
	RoleViewer                    SiteRole = "Viewer"
	RoleExplorer                  SiteRole = "Explorer"
	RoleExplorerCanPublish        SiteRole = "ExplorerCanPublish"
	RoleCreator                   SiteRole = "Creator"
	RoleSiteAdministratorExplorer SiteRole = "SiteAdministratorExplorer"
)

// Further roles the Update User call accepts.
const (
	RoleSiteAdministratorCreator SiteRole = "SiteAdministratorCreator"
	RoleUnlicensed               SiteRole = "Unlicensed"
)

// Roles that may appear in responses but cannot be set through the REST API
// (server-wide or legacy roles).
const (
	RoleServerAdministrator   SiteRole = "ServerAdministrator"
	RoleSiteAdministrator     SiteRole = "SiteAdministrator"
	RolePublisher             SiteRole = "Publisher"
	RoleInteractor            SiteRole = "Interactor"
	RoleViewerWithPublish     SiteRole = "ViewerWithPublish"
	RoleUnlicensedWithPublish SiteRole = "UnlicensedWithPublish"
	RoleReadOnly              SiteRole = "ReadOnly"
	RoleSupportUser           SiteRole = "SupportUser"
	RoleGuest                 SiteRole = "Guest"
)

// roleOrder ranks site roles by the access they give, lowest first;
// Unlicensed and roles not listed rank below all (SPEC §3.1: Creator >
// SiteAdministratorExplorer > ExplorerCanPublish > Explorer > Viewer).
var roleOrder = []SiteRole{
	RoleViewer, RoleExplorer, RoleExplorerCanPublish, RoleSiteAdministratorExplorer,
	RoleCreator, RoleSiteAdministratorCreator, RoleServerAdministrator,
}

// RoleRank is r's place in roleOrder: 0 for Unlicensed and unknown roles.
func RoleRank(r SiteRole) int { return slices.Index(roleOrder, r) + 1 }

// ProvisionableRoles are the roles Provision and Deprovision accept.
var ProvisionableRoles = []SiteRole{RoleViewer, RoleExplorer, RoleExplorerCanPublish, RoleCreator, RoleSiteAdministratorExplorer}

// SettableRoles are the roles Tableau's Update User accepts; others get 400013.
var SettableRoles = []SiteRole{RoleCreator, RoleExplorer, RoleExplorerCanPublish, RoleSiteAdministratorCreator, RoleSiteAdministratorExplorer, RoleViewer, RoleUnlicensed}

// ParseProvisionableRole accepts exactly one of ProvisionableRoles.
func ParseProvisionableRole(s string) (SiteRole, error) { return parseRole(s, ProvisionableRoles) }

// ParseSettableRole accepts exactly one of SettableRoles.
func ParseSettableRole(s string) (SiteRole, error) { return parseRole(s, SettableRoles) }

func parseRole(s string, allowed []SiteRole) (SiteRole, error) {
	if s == "" {
		return "", fmt.Errorf("is required (one of %s)", joinRoles(allowed))
	}
	if slices.Contains(allowed, SiteRole(s)) {
		return SiteRole(s), nil
	}
	for _, r := range allowed {
		if strings.EqualFold(strings.TrimSpace(s), string(r)) {
			return "", fmt.Errorf("%q is not a site role: did you mean %q? (role names are case-sensitive)", s, r)
		}
	}
	return "", fmt.Errorf("%q is not a site role tabflow can set: use one of %s", clip.Text(s, 64), joinRoles(allowed))
}

func joinRoles(roles []SiteRole) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}
