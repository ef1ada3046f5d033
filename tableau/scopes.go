package tableau

import (
	"net/http"
	"strings"
)

// DefaultJWTScopes cover every call tabflow makes: content reads (collections,
// search, usage stats, the health check's workbook listing) and reading and
// updating site users. Tableau's scope table has no individual scope for
// Update User: only the users wildcard enables it.
var DefaultJWTScopes = []string{ScopeContentRead, ScopeUsersAll}

// Connected-app scopes tabflow's calls need.
const (
	ScopeContentRead = "tableau:content:read"
	ScopeUsersRead   = "tableau:users:read"
	ScopeUsersAll    = "tableau:users:*"
)

// requiredScope names the connected-app scope a call needs, for the message
// of a 401002 that a retry cannot fix. path is the request's URL path.
func requiredScope(method, path string) string {
	if strings.Contains(path, "/users") {
		if method == http.MethodGet {
			return ScopeUsersRead + " (or " + ScopeUsersAll + ")"
		}
		return ScopeUsersAll
	}
	if method == http.MethodGet {
		return ScopeContentRead
	}
	return "that covers " + method + " " + path + " (see Tableau's connected-app scope table)"
}
