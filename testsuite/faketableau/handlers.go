package faketableau

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Tableau error codes the fake answers with.
const (
	codeNoCredentials   = "401000"
	codeSignIn          = "401001"
	codeInvalidToken    = "401002"
	codeForbidden       = "403000"
	codePageSizeLimit   = "403014"
	codeVersionUnknown  = "404001"
	codeUserNotFound    = "404002"
	codeUnknownResource = "404003"
	codeInvalidSiteRole = "400013"
	codeBadRequest      = "400000"
	codeTooManyRequests = "429000"
)

var settableRoles = []string{"Creator", "Explorer", "ExplorerCanPublish", "SiteAdministratorCreator", "SiteAdministratorExplorer", "Viewer", "Unlicensed"}

func errorJSON(code, summary, detail string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "summary": summary, "detail": detail}})
	return string(b)
}

// reply is a handler's answer.
type reply struct {
	status int
	body   any // marshalled as JSON; nil = no body
}

func ok(body any) reply { return reply{status: http.StatusOK, body: body} }

func fail(status int, code, summary, detail string) reply {
	return reply{status: status, body: json.RawMessage(errorJSON(code, summary, detail))}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host, At: time.Now(), Token: r.Header.Get("X-Tableau-Auth")}
	s.mu.Lock()
	s.inflight++
	s.peak = max(s.peak, s.inflight)
	latency := s.latency
	s.mu.Unlock()
	defer func() {
		rec.Took = time.Since(rec.At)
		s.mu.Lock()
		s.inflight--
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
	}()
	// Counted on arrival: a test that reads the counters once its workflow
	// is done must not race the bookkeeping of a request whose connection
	// was cut (its client may have moved on before this handler returns).
	rec.Endpoint = endpointOf(r)
	if rec.Endpoint != "" {
		s.mu.Lock()
		s.counts[rec.Endpoint]++
		s.mu.Unlock()
	}
	// Read the body now: only then does net/http watch for the client going
	// away, so a delayed answer ends when the caller gives up.
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))

	if s.refusing() {
		resetConnection(w)
		return
	}
	fault := s.takeFault(r)
	if fault != nil {
		latency += fault.Latency
	}
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if fault != nil && (fault.Reset || fault.Refuse) {
		resetConnection(w)
		return
	}
	if fault != nil && fault.Status != 0 {
		for k, v := range fault.Header {
			w.Header()[k] = v
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(fault.Status)
		out := fault.Body
		if fault.Echo != nil {
			out = fault.Echo(body)
		}
		if fault.StallBody > 0 { // half the body, then nothing for a while
			io.WriteString(w, out[:len(out)/2])
			http.NewResponseController(w).Flush()
			select {
			case <-time.After(fault.StallBody):
			case <-r.Context().Done():
				return
			}
			out = out[len(out)/2:]
		}
		io.WriteString(w, out)
		rec.Status = fault.Status
		return
	}
	rep := s.route(r)
	rec.Status = rep.status
	if fault != nil && fault.LoseAnswer {
		resetConnection(w)
		return
	}
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	json.NewEncoder(w).Encode(rep.body)
}

// endpointOf names the endpoint a request is for, for counters.
func endpointOf(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 3 || parts[0] != "api" {
		return ""
	}
	rest := parts[2:]
	switch {
	case parts[1] == "-" && rest[0] == "search":
		return "search"
	case parts[1] == "-" && rest[0] == "collections":
		return "collections"
	case parts[1] == "-" && len(rest) >= 2 && rest[0] == "content" && rest[1] == "usage-stats":
		return "usage-stats"
	case len(rest) == 2 && rest[0] == "auth":
		return rest[1] // signin, signout
	case len(rest) == 1 && strings.EqualFold(rest[0], "serverinfo"):
		return "serverinfo"
	case len(rest) == 2 && rest[0] == "sessions" && rest[1] == "current":
		return "sessions:current"
	case len(rest) == 3 && rest[0] == "sites" && rest[2] == "users":
		return "users:list"
	case len(rest) == 4 && rest[0] == "sites" && rest[2] == "users" && r.Method == http.MethodPut:
		return "users:update"
	case len(rest) == 4 && rest[0] == "sites" && rest[2] == "users" && r.Method == http.MethodDelete:
		return "users:delete"
	case len(rest) == 4 && rest[0] == "sites" && rest[2] == "users":
		return "users:get"
	case len(rest) == 3 && rest[0] == "sites" && rest[2] == "workbooks":
		return "workbooks:list"
	}
	return ""
}

func (s *Server) route(r *http.Request) reply {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 3 || parts[0] != "api" {
		return unknownResource(r)
	}
	version, rest := parts[1], parts[2:]
	if version == "-" {
		return s.routeVersionless(r, rest)
	}
	if !validVersion(version) || compareVersions(version, s.opts.maxAPIVersion) > 0 {
		return fail(404, codeVersionUnknown, "Resource Not Found", fmt.Sprintf("Version '%s' is not a valid version of the API.", version))
	}
	switch {
	case r.Method == http.MethodPost && len(rest) == 2 && rest[0] == "auth" && rest[1] == "signin":
		return s.signIn(r)
	case r.Method == http.MethodPost && len(rest) == 2 && rest[0] == "auth" && rest[1] == "signout":
		return s.signOut(r)
	case r.Method == http.MethodGet && len(rest) == 1 && strings.EqualFold(rest[0], "serverinfo"):
		return ok(map[string]any{"serverInfo": map[string]any{
			"productVersion": map[string]string{"value": s.opts.productVersion, "build": "20253.25.1105.0900"},
			"restApiVersion": s.opts.maxAPIVersion,
		}})
	}
	se, st, rep := s.authenticate(r)
	if se == nil {
		return rep
	}
	switch {
	case r.Method == http.MethodGet && len(rest) == 2 && rest[0] == "sessions" && rest[1] == "current":
		return s.currentSession(se, st)
	case len(rest) >= 3 && rest[0] == "sites" && rest[2] == "users":
		if rest[1] != st.id {
			return fail(403, codeForbidden, "Forbidden", "The session's site does not match the site in the URI.")
		}
		return s.users(r, se, st, rest[3:])
	case r.Method == http.MethodGet && len(rest) == 3 && rest[0] == "sites" && rest[2] == "workbooks":
		if rest[1] != st.id {
			return fail(403, codeForbidden, "Forbidden", "The session's site does not match the site in the URI.")
		}
		if !hasScope(se, "tableau:content:read") {
			return missingScope()
		}
		return s.listWorkbooks(st)
	case r.Method == http.MethodGet && len(rest) == 3 && rest[0] == "sites" && (rest[2] == "datasources" || rest[2] == "flows"):
		if rest[1] != st.id {
			return fail(403, codeForbidden, "Forbidden", "The session's site does not match the site in the URI.")
		}
		if !hasScope(se, "tableau:content:read") {
			return missingScope()
		}
		return s.contentByOwner(r, st, strings.TrimSuffix(rest[2], "s"), rest[2])
	}
	return unknownResource(r)
}

func (s *Server) routeVersionless(r *http.Request, rest []string) reply {
	se, st, rep := s.authenticate(r)
	if se == nil {
		return rep
	}
	if !hasScope(se, "tableau:content:read") {
		return missingScope()
	}
	switch {
	case r.Method == http.MethodGet && len(rest) == 1 && rest[0] == "search":
		return s.search(r, st)
	case r.Method == http.MethodGet && len(rest) == 1 && rest[0] == "collections" && s.opts.collections:
		return ok(map[string]any{"collections": []any{}, "total": 0})
	case len(rest) >= 2 && rest[0] == "content" && rest[1] == "usage-stats":
		return s.usageStats(r, st, rest[2:])
	}
	return unknownResource(r)
}

func unknownResource(r *http.Request) reply {
	return fail(404, codeUnknownResource, "Resource Not Found", fmt.Sprintf("Unknown resource '%s' specified in URI.", r.URL.Path))
}

// authenticate resolves X-Tableau-Auth to a live session.
func (s *Server) authenticate(r *http.Request) (*session, *site, reply) {
	token := r.Header.Get("X-Tableau-Auth")
	if token == "" {
		return nil, nil, fail(401, codeNoCredentials, "Unauthorized Access", "No authentication credentials were provided.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	se, found := s.sessions[token]
	if !found || se.terminated {
		return nil, nil, fail(401, codeInvalidToken, "Unauthorized Access", "Invalid authentication credentials were provided.")
	}
	for _, st := range s.sites {
		if st.id == se.siteID {
			return se, st, reply{}
		}
	}
	return nil, nil, fail(401, codeInvalidToken, "Unauthorized Access", "Invalid authentication credentials were provided.")
}

func hasScope(se *session, want string) bool {
	if se.scopes == nil {
		return true
	}
	category := want[:strings.LastIndex(want, ":")]
	return slices.Contains(se.scopes, want) || slices.Contains(se.scopes, category+":*")
}

func missingScope() reply {
	return fail(401, codeInvalidToken, "Unauthorized Access", "Invalid authentication credentials were provided.")
}

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
		if !hasScope(se, "tableau:users:read") {
			return missingScope()
		}
		if !isAdmin(caller) {
			return fail(403, codeForbidden, "Forbidden", "Only site and server administrators can query the users of a site.")
		}
		return s.listUsers(r, st)
	case len(rest) == 1 && r.Method == http.MethodGet:
		if !hasScope(se, "tableau:users:read") {
			return missingScope()
		}
		if !isAdmin(caller) && (caller == nil || caller.ID != rest[0]) {
			return fail(403, codeForbidden, "Forbidden", "Only site and server administrators can query other users.")
		}
		for _, u := range st.users {
			if u.ID == rest[0] {
				return ok(map[string]any{"user": userJSON(u)})
			}
		}
		return fail(404, codeUserNotFound, "Resource Not Found", fmt.Sprintf("User '%s' could not be found.", rest[0]))
	case len(rest) == 2 && r.Method == http.MethodGet && rest[1] == "groups":
		if !hasScope(se, "tableau:users:read") {
			return missingScope()
		}
		if !isAdmin(caller) {
			return fail(403, codeForbidden, "Forbidden", "Only site and server administrators can query the groups of other users.")
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
		if !hasScope(se, "tableau:users:*") {
			return missingScope()
		}
		if !isAdmin(caller) {
			return fail(403, codeForbidden, "Forbidden", "Only site and server administrators can update users.")
		}
		return s.updateUser(r, st, rest[0])
	case len(rest) == 1 && r.Method == http.MethodDelete:
		if !hasScope(se, "tableau:users:delete") {
			return missingScope()
		}
		if !isAdmin(caller) {
			return fail(403, codeForbidden, "Forbidden", "Only site and server administrators can remove users.")
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

func (s *Server) listWorkbooks(st *site) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []any{}
	for _, c := range st.content {
		if c.Type == "workbook" {
			list = append(list, map[string]string{"id": c.LUID, "name": c.Title})
		}
	}
	workbooks := map[string]any{}
	if len(list) > 0 {
		workbooks["workbook"] = list
	}
	return ok(map[string]any{
		"pagination": map[string]string{"pageNumber": "1", "pageSize": "100", "totalAvailable": strconv.Itoa(len(list))},
		"workbooks":  workbooks,
	})
}

func (s *Server) search(r *http.Request, st *site) reply {
	q := r.URL.Query()
	terms := strings.ToLower(q.Get("terms"))
	typeFilter := strings.TrimPrefix(q.Get("filter"), "type:eq:")
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 10
	}
	page, _ := strconv.Atoi(q.Get("page"))
	s.mu.Lock()
	var hits []any
	for _, c := range st.content {
		if (terms == "" || strings.Contains(strings.ToLower(c.Title), terms)) && (typeFilter == "" || c.Type == typeFilter) {
			hits = append(hits, map[string]any{"uri": "/" + c.Type + "s/" + c.LUID, "content": map[string]any{
				"type": c.Type, "luid": c.LUID, "title": c.Title, "ownerName": c.OwnerName, "totalViewCount": c.Views,
			}})
		}
	}
	s.mu.Unlock()
	start := min(max(page, 0)*limit, len(hits))
	end := min(start+limit, len(hits))
	out := map[string]any{"total": len(hits), "pageIndex": page, "limit": limit, "items": append([]any{}, hits[start:end]...)}
	if end < len(hits) {
		out["next"] = fmt.Sprintf("/api/-/search?terms=%s&page=%d&limit=%d", q.Get("terms"), page+1, limit)
	}
	return ok(map[string]any{"hits": out})
}

func (s *Server) usageStats(r *http.Request, st *site, rest []string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	find := func(typ, luid string) map[string]any {
		for _, c := range st.content {
			if c.LUID == luid && c.Type == typ {
				return map[string]any{"luid": luid, "type": typ, "hitsTotal": c.Views, "hitsLastTwoWeeksTotal": c.Views / 4}
			}
		}
		return nil
	}
	switch {
	case r.Method == http.MethodGet && len(rest) == 2:
		if stats := find(rest[0], rest[1]); stats != nil {
			return ok(stats)
		}
		return fail(404, "404004", "Resource Not Found", fmt.Sprintf("Content %s/%s could not be found.", rest[0], rest[1]))
	case r.Method == http.MethodPost && len(rest) == 0:
		var in struct {
			ContentItems []struct{ LUID, Type string } `json:"content_items"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			return fail(400, codeBadRequest, "Bad Request", "The request body is not valid JSON.")
		}
		found, unknown := []any{}, []any{}
		for _, it := range in.ContentItems {
			if stats := find(it.Type, it.LUID); stats != nil {
				found = append(found, stats)
			} else {
				unknown = append(unknown, map[string]string{"luid": it.LUID, "type": it.Type})
			}
		}
		return ok(map[string]any{"content_items": found, "unknown": unknown})
	}
	return unknownResource(r)
}

// validVersion accepts "major.minor".
func validVersion(v string) bool {
	maj, min, ok := strings.Cut(v, ".")
	_, e1 := strconv.Atoi(maj)
	_, e2 := strconv.Atoi(min)
	return ok && e1 == nil && e2 == nil
}

// compareVersions compares "major.minor" numerically.
func compareVersions(a, b string) int {
	split := func(v string) (int, int) {
		maj, mn, _ := strings.Cut(v, ".")
		x, _ := strconv.Atoi(maj)
		y, _ := strconv.Atoi(mn)
		return x, y
	}
	a1, a2 := split(a)
	b1, b2 := split(b)
	if a1 != b1 {
		return a1 - b1
	}
	return a2 - b2
}
