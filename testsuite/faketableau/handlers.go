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
		if fault.Meanwhile != nil {
			fault.Meanwhile()
		}
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
	if fault != nil && fault.Rewrite != nil {
		answer, _ := json.Marshal(rep.body)
		io.WriteString(w, fault.Rewrite(string(answer)))
		return
	}
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
	case len(rest) == 5 && rest[0] == "sites" && rest[2] == "users" && rest[4] == "groups":
		return "users:groups"
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

// refuse is Tableau's answer to a call the session may not make: a scope
// its connected app's JWT lacks (401002), or a caller who is not allowed
// (403, "Only site and server administrators can <what>.").
func refuse(se *session, scope string, allowed bool, what string) (reply, bool) {
	if !hasScope(se, scope) {
		return missingScope(), true
	}
	if !allowed {
		return fail(403, codeForbidden, "Forbidden", "Only site and server administrators can "+what+"."), true
	}
	return reply{}, false
}

func missingScope() reply {
	return fail(401, codeInvalidToken, "Unauthorized Access", "Invalid authentication credentials were provided.")
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
