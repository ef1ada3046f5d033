package faketableau

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Demo credentials of the sandbox site. They open only this fake.
const (
	SandboxSite          = "sandbox"
	SandboxAdminPAT      = "tabflow-admin"
	SandboxAdminSecret   = "sandbox-admin-secret-0000"
	SandboxViewerPAT     = "tabflow-viewer"
	SandboxViewerSecret  = "sandbox-viewer-secret-0000"
	SandboxJWTClientID   = "sandbox-connected-app"
	SandboxJWTSecretID   = "sandbox-secret-id"
	SandboxJWTSecret     = "sandbox-connected-app-secret-value-0000"
	SandboxJWTUsername   = "admin@example.com"
	SandboxAdminPassword = "sandbox-password"
)

// SeedSandbox fills a fake with a demo site: an administrator (who owns the
// admin PAT, a connected app and a password), a non-admin PAT owner, a few
// users to provision, one user who never signed in, and some content.
func SeedSandbox(s *Server) {
	s.AddSite(SandboxSite, "Sandbox")
	s.AddUser(SandboxSite, User{Name: "admin@example.com", FullName: "Sandbox Admin", Email: "admin@example.com", SiteRole: "SiteAdministratorCreator", LastLogin: "2026-11-01T09:00:00Z"})
	s.AddUser(SandboxSite, User{Name: "viewer@example.com", FullName: "Read Only", Email: "viewer@example.com", SiteRole: "Viewer", LastLogin: "2026-11-01T09:00:00Z"})
	for _, u := range []User{
		{Name: "ana@example.com", FullName: "Ana Lima", SiteRole: "Unlicensed"},
		{Name: "ben@example.com", FullName: "Ben Okafor", SiteRole: "Viewer"},
		{Name: "chloe@example.com", FullName: "Chloé Martin", SiteRole: "Explorer"},
		{Name: "dev@example.com", FullName: "Dev Patel", SiteRole: "Creator"},
	} {
		u.Email, u.LastLogin = u.Name, "2026-10-15T12:00:00Z"
		s.AddUser(SandboxSite, u)
	}
	s.AddUser(SandboxSite, User{Name: "newhire@example.com", FullName: "Never Signed In", Email: "newhire@example.com", SiteRole: "Unlicensed"})
	s.AddPAT(SandboxSite, SandboxAdminPAT, SandboxAdminSecret, "admin@example.com", 0)
	s.AddPAT(SandboxSite, SandboxViewerPAT, SandboxViewerSecret, "viewer@example.com", 10*24*time.Hour)
	s.AddConnectedApp(SandboxSite, SandboxJWTClientID, SandboxJWTSecretID, SandboxJWTSecret)
	s.SetPassword(SandboxSite, "admin@example.com", SandboxAdminPassword)
	// A directory group that licenses its members at sign-in: revoking
	// chloe's Explorer warns that her next sign-in undoes it.
	s.AddGroup(SandboxSite, Group{Name: "Sales (AD)", DomainName: "corp.example.com", SiteRole: "Explorer", GrantLicenseMode: "onLogin"}, "chloe@example.com")
	for _, c := range []Content{
		{Type: "workbook", Title: "Sales Overview", OwnerName: "Sandbox Admin", Views: 1200},
		{Type: "workbook", Title: "Sales Forecast", OwnerName: "Dev Patel", Views: 310},
		{Type: "datasource", Title: "Sales (extract)", OwnerName: "Dev Patel", Views: 95},
	} {
		s.AddContent(SandboxSite, c)
	}
}

// PrintSandbox tells people how to point tabflow at the sandbox.
func PrintSandbox(w io.Writer, s *Server, caPath string) {
	fmt.Fprintf(w, `Fake Tableau sandbox (not a real Tableau) at %s
  TABLEAU_SERVER_URL=%s
  TABLEAU_SITE=%s
  TABLEAU_CA_FILE=%s
  TABLEAU_PAT_NAME=%s TABLEAU_PAT_SECRET=%s   (site administrator)
  TABLEAU_PAT_NAME=%s TABLEAU_PAT_SECRET=%s  (Viewer: user management is denied)
  connected app: TABLEAU_AUTH_METHOD=jwt TABLEAU_JWT_CLIENT_ID=%s TABLEAU_JWT_SECRET_ID=%s TABLEAU_JWT_SECRET=%s TABLEAU_JWT_USERNAME=%s
  users: %s
`, s.URL, s.Host, SandboxSite, caPath, SandboxAdminPAT, SandboxAdminSecret, SandboxViewerPAT, SandboxViewerSecret,
		SandboxJWTClientID, SandboxJWTSecretID, SandboxJWTSecret, SandboxJWTUsername, SandboxUsers(s))
}

// SandboxUsers lists the sandbox's users with their roles as they are now,
// so a restarted dev, whose sandbox kept the roles workflows set, shows
// those: "admin@ (SiteAdministratorCreator, signs in for tabflow), …".
func SandboxUsers(s *Server) string {
	var parts []string
	for _, u := range []struct{ name, note string }{
		{"admin", ", signs in for tabflow"}, {"viewer", ", owns the Viewer PAT"},
		{"ana", ""}, {"ben", ""}, {"chloe", ", in a group that licenses at sign-in"}, {"dev", ""}, {"newhire", ", never signed in"},
	} {
		parts = append(parts, fmt.Sprintf("%s@ (%s%s)", u.name, s.Role(SandboxSite, u.name+"@example.com"), u.note))
	}
	return strings.Join(parts, ", ") + " — all @example.com"
}
