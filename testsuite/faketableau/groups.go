package faketableau

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Group is a site group. DomainName, SiteRole and GrantLicenseMode make its
// import element (a group synchronised from Active Directory or an identity
// provider; onLogin or onSync licenses members at sign-in or sync);
// MinimumSiteRole is the attribute newer servers send instead.
type Group struct {
	ID, Name                               string
	DomainName, SiteRole, GrantLicenseMode string
	MinimumSiteRole                        string
	members                                map[string]bool // user IDs
}

// AddGroup adds a group with the named users as members and returns its ID.
func (s *Server) AddGroup(siteURL string, g Group, members ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.mustSite(siteURL)
	if g.ID == "" {
		g.ID = newLUID()
	}
	g.members = map[string]bool{}
	for _, name := range members {
		g.members[s.mustUser(siteURL, name).ID] = true
	}
	st.groups = append(st.groups, &g)
	return g.ID
}

func groupJSON(g *Group) map[string]any {
	domain := g.DomainName
	if domain == "" {
		domain = "local"
	}
	out := map[string]any{"id": g.ID, "name": g.Name, "domain": map[string]string{"name": domain}}
	if g.DomainName != "" || g.SiteRole != "" || g.GrantLicenseMode != "" {
		imp := map[string]string{"domainName": g.DomainName}
		if g.SiteRole != "" {
			imp["siteRole"] = g.SiteRole
		}
		if g.GrantLicenseMode != "" {
			imp["grantLicenseMode"] = g.GrantLicenseMode
		}
		out["import"] = imp
	}
	if g.MinimumSiteRole != "" {
		out["minimumSiteRole"] = g.MinimumSiteRole
	}
	return out
}

// userGroups answers Get Groups for a User (the caller holds s.mu).
func (s *Server) userGroups(r *http.Request, st *site, userID string) reply {
	if s.userByID(st, userID) == nil {
		return userNotFound(userID)
	}
	var list []any
	for _, g := range st.groups {
		if g.members[userID] {
			list = append(list, groupJSON(g))
		}
	}
	return paged(r.URL.Query(), list, "groups", "group")
}

// userWorkbooks answers Query Workbooks for User; ownedBy=true keeps the
// ones the user owns (content names its owner by user or display name).
func (s *Server) userWorkbooks(r *http.Request, st *site, userID string) reply {
	u := s.userByID(st, userID)
	if u == nil {
		return userNotFound(userID)
	}
	owns := func(c Content) bool {
		return strings.EqualFold(c.OwnerName, u.Name) || strings.EqualFold(c.OwnerName, u.FullName)
	}
	return paged(r.URL.Query(), contentJSON(st, "workbook", owns), "workbooks", "workbook")
}

// contentByOwner answers Query Data Sources and Query Flows, honouring
// filter=ownerName:eq:NAME.
func (s *Server) contentByOwner(r *http.Request, st *site, typ, plural string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, filtered := "", false
	if f := r.URL.Query().Get("filter"); f != "" {
		v, found := strings.CutPrefix(f, "ownerName:eq:")
		if !found || strings.Contains(v, ",") {
			return fail(400, codeBadRequest, "Bad Request", "Invalid filter: "+f)
		}
		owner, filtered = v, true
	}
	return paged(r.URL.Query(), contentJSON(st, typ, func(c Content) bool { return !filtered || strings.EqualFold(c.OwnerName, owner) }), plural, typ)
}

func contentJSON(st *site, typ string, keep func(Content) bool) []any {
	var list []any
	for _, c := range st.content {
		if c.Type == typ && keep(c) {
			list = append(list, map[string]any{"id": c.LUID, "name": c.Title, "owner": map[string]string{"name": c.OwnerName}})
		}
	}
	return list
}

func (s *Server) userByID(st *site, id string) *User {
	for _, u := range st.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

func userNotFound(id string) reply {
	return fail(404, codeUserNotFound, "Resource Not Found", "User '"+id+"' could not be found.")
}

// paged answers one page of a listing as Tableau does:
// {"pagination":{…strings…},"<plural>":{"<singular>":[…]}}, an empty list as {}.
func paged(q url.Values, all []any, plural, singular string) reply {
	size, number, rep := pageParams(q)
	if rep != nil {
		return *rep
	}
	start := min((number-1)*size, len(all))
	return pageReply(number, size, len(all), all[start:min(start+size, len(all))], plural, singular)
}

// pageReply is one page of total items.
func pageReply(number, size, total int, page []any, plural, singular string) reply {
	items := map[string]any{}
	if len(page) > 0 {
		items[singular] = page
	}
	return ok(map[string]any{
		"pagination": map[string]string{"pageNumber": strconv.Itoa(number), "pageSize": strconv.Itoa(size), "totalAvailable": strconv.Itoa(total)},
		plural:       items,
	})
}

// pageParams reads pageSize (1–1000, default 100) and pageNumber (default 1).
func pageParams(q url.Values) (size, number int, rep *reply) {
	size, number = 100, 1
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			r := fail(400, "400007", "Bad Request", "The page size must be a positive integer.")
			return 0, 0, &r
		}
		if n > 1000 {
			r := fail(403, codePageSizeLimit, "Forbidden", "The page size limit (1000) was exceeded.")
			return 0, 0, &r
		}
		size = n
	}
	if v := q.Get("pageNumber"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			r := fail(400, "400006", "Bad Request", "The page number must be a positive integer.")
			return 0, 0, &r
		}
		number = n
	}
	return size, number, nil
}
