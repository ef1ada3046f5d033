package faketableau

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The users of a site: Get Users on Site, Query User, Update User, Remove
// User, and the current session's user.

func (s *Server) userOf(se *session, st *site) *User {
	for _, u := range st.users {
		if u.ID == se.userID {
			return u
		}
	}
	return nil
}

func isAdmin(u *User) bool {
	return u != nil && strings.Contains(u.SiteRole, "Administrator")
}

func (s *Server) currentSession(se *session, st *site) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userOf(se, st)
	if u == nil {
		return missingScope()
	}
	return ok(map[string]any{"session": map[string]any{
		"site": map[string]string{"id": st.id, "name": st.name, "contentUrl": st.contentURL},
		"user": map[string]string{"id": u.ID, "name": u.Name, "siteRole": u.SiteRole, "lastLogin": u.LastLogin},
	}})
}

func userJSON(u *User) map[string]string {
	m := map[string]string{
		"id": u.ID, "name": u.Name, "siteRole": u.SiteRole, "authSetting": u.AuthSetting,
		"externalAuthUserId": u.ExternalAuthUserID,
	}
	for k, v := range map[string]string{"fullName": u.FullName, "email": u.Email, "lastLogin": u.LastLogin, "idpConfigurationId": u.IdpConfigurationID} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

func (s *Server) users(r *http.Request, se *session, st *site, rest []string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	caller := s.userOf(se, st)
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		if refusal, refused := refuse(se, "tableau:users:read", isAdmin(caller), "query the users of a site"); refused {
			return refusal
		}
		return s.listUsers(r, st)
	case len(rest) == 1 && r.Method == http.MethodGet:
		if refusal, refused := refuse(se, "tableau:users:read", isAdmin(caller) || (caller != nil && caller.ID == rest[0]), "query other users"); refused {
			return refusal
		}
		for _, u := range st.users {
			if u.ID == rest[0] {
				return ok(map[string]any{"user": userJSON(u)})
			}
		}
		return fail(404, codeUserNotFound, "Resource Not Found", fmt.Sprintf("User '%s' could not be found.", rest[0]))
	case len(rest) == 2 && r.Method == http.MethodGet && rest[1] == "groups":
		if refusal, refused := refuse(se, "tableau:users:read", isAdmin(caller), "query the groups of other users"); refused {
			return refusal
		}
		return s.userGroups(r, st, rest[0])
	case len(rest) == 2 && r.Method == http.MethodGet && rest[1] == "workbooks":
		if !hasScope(se, "tableau:content:read") {
			return missingScope()
		}
		return s.userWorkbooks(r, st, rest[0])
	case len(rest) == 1 && r.Method == http.MethodPut:
		// Tableau's scope table lists no individual scope for Update User:
		// only the users wildcard enables it.
		if refusal, refused := refuse(se, "tableau:users:*", isAdmin(caller), "update users"); refused {
			return refusal
		}
		return s.updateUser(r, st, rest[0])
	case len(rest) == 1 && r.Method == http.MethodDelete:
		if refusal, refused := refuse(se, "tableau:users:delete", isAdmin(caller), "remove users"); refused {
			return refusal
		}
		for i, u := range st.users {
			if u.ID == rest[0] {
				st.users = append(st.users[:i:i], st.users[i+1:]...)
				return reply{status: http.StatusNoContent}
			}
		}
		return fail(404, codeUserNotFound, "Resource Not Found", fmt.Sprintf("User '%s' could not be found.", rest[0]))
	}
	return unknownResource(r)
}

func (s *Server) listUsers(r *http.Request, st *site) reply {
	q := r.URL.Query()
	matched := st.users
	if expr := q.Get("filter"); expr != "" {
		f, err := parseUserFilter(expr)
		if err != nil {
			return fail(400, codeBadRequest, "Bad Request", err.Error())
		}
		matched = nil
		for _, u := range st.users {
			if f.match(u) {
				matched = append(matched, u)
			}
		}
	}
	size, number, rep := pageParams(q)
	if rep != nil {
		return *rep
	}
	// Only the page asked for is turned into JSON: a site of 100,000 users
	// answers each page in proportion to the page.
	start := min((number-1)*size, len(matched))
	page := make([]any, 0, min(size, len(matched)-start))
	for _, u := range matched[start:min(start+size, len(matched))] {
		page = append(page, userJSON(u))
	}
	return pageReply(number, size, len(matched), page, "users", "user")
}

func (s *Server) updateUser(r *http.Request, st *site, id string) reply {
	var in struct {
		User struct {
			SiteRole string `json:"siteRole"`
		} `json:"user"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		return fail(400, codeBadRequest, "Bad Request", "The request body is not valid JSON.")
	}
	var target *User
	for _, u := range st.users {
		if u.ID == id {
			target = u
		}
	}
	if target == nil {
		return fail(404, codeUserNotFound, "Resource Not Found", fmt.Sprintf("User '%s' could not be found.", id))
	}
	if in.User.SiteRole != "" {
		if !slices.Contains(settableRoles, in.User.SiteRole) {
			return fail(400, codeInvalidSiteRole, "Bad Request", fmt.Sprintf("Invalid site role: '%s'.", in.User.SiteRole))
		}
		s.changes = append(s.changes, RoleChange{User: target.Name, From: target.SiteRole, To: in.User.SiteRole, At: time.Now()})
		target.SiteRole = in.User.SiteRole
		s.saveRoles()
	}
	// Tableau's Update User answer omits the user's ID.
	out := userJSON(target)
	delete(out, "id")
	return ok(map[string]any{"user": out})
}
