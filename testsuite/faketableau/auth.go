package faketableau

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func signInError(detail string) reply {
	return fail(401, codeSignIn, "Signin Error", detail)
}

// signIn handles the three credential kinds of Tableau's Sign In.
func (s *Server) signIn(r *http.Request) reply {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fail(415, "415000", "Unsupported Media Type", "This fake speaks JSON only: send Content-Type: application/json.")
	}
	var in struct {
		Credentials *struct {
			PATName   string `json:"personalAccessTokenName"`
			PATSecret string `json:"personalAccessTokenSecret"`
			Name      string `json:"name"`
			Password  string `json:"password"`
			JWT       string `json:"jwt"`
			IsUAT     bool   `json:"isUat"`
			Site      struct {
				ContentURL string `json:"contentUrl"`
			} `json:"site"`
		} `json:"credentials"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil || in.Credentials == nil {
		return fail(400, codeBadRequest, "Bad Request", "The sign-in body must be {\"credentials\":{…}}.")
	}
	cr := in.Credentials
	s.mu.Lock()
	defer s.mu.Unlock()
	st, found := s.sites[cr.Site.ContentURL]
	if !found {
		return signInError("Error signing in to Tableau Server")
	}
	var (
		user    *User
		patName string
		scopes  []string
	)
	switch {
	case cr.PATName != "":
		p, ok := s.pats[cr.PATName]
		if !ok || p.secret != cr.PATSecret || p.site != st.contentURL || time.Now().After(p.expires) {
			return signInError("Error signing in to Tableau Server")
		}
		user, patName = s.findUser(st, p.owner), p.name
	case cr.JWT != "" && cr.IsUAT:
		var rep reply
		if user, scopes, rep = s.verifyUAT(st, cr.JWT, strings.Split(strings.Trim(r.URL.Path, "/"), "/")[1]); user == nil {
			return rep
		}
	case cr.JWT != "":
		var rep reply
		if user, scopes, rep = s.verifyJWT(st, cr.JWT); user == nil {
			return rep
		}
	case cr.Name != "":
		user = s.findUser(st, cr.Name)
		if user == nil || user.password == "" || user.password != cr.Password {
			return signInError("Error signing in to Tableau Server")
		}
	default:
		return fail(400, codeBadRequest, "Bad Request", "No credentials were given.")
	}
	if user == nil {
		return signInError("Error signing in to Tableau Server")
	}
	se := &session{token: randomToken(), siteID: st.id, userID: user.ID, patName: patName, scopes: scopes}
	if patName != "" {
		if old, live := s.livePAT[patName]; live {
			// Tableau allows one session per PAT: this sign-in ends the other.
			s.sessions[old].terminated = true
			s.collisions++
		}
		s.livePAT[patName] = se.token
	}
	s.sessions[se.token] = se
	s.signIns++
	user.LastLogin = time.Now().UTC().Format(time.RFC3339)
	creds := map[string]any{
		"token": se.token,
		"site":  map[string]string{"id": st.id, "contentUrl": st.contentURL},
		"user":  map[string]string{"id": user.ID},
	}
	if patName != "" {
		creds["estimatedTimeToExpiration"] = formatTimeToExpiration(time.Until(s.pats[patName].expires))
	}
	return ok(map[string]any{"credentials": creds})
}

func (s *Server) findUser(st *site, name string) *User {
	for _, u := range st.users {
		if strings.EqualFold(u.Name, name) {
			return u
		}
	}
	return nil
}

// verifyJWT checks a connected-app JWT the way Tableau documents it, with its
// sub-codes: 10085 unknown client/secret, 10084 unparsable or wrong aud,
// 16 unknown user or exp over 10 minutes ahead.
func (s *Server) verifyJWT(st *site, raw string) (*User, []string, reply) {
	var app *connectedApp
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		iss, _ := t.Header["iss"].(string)
		a, ok := s.apps[iss]
		if !ok || a.secretID != kid || a.site != st.contentURL {
			return nil, fmt.Errorf("unknown client or secret")
		}
		app = a
		return []byte(a.secret), nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience("tableau"), jwt.WithExpirationRequired())
	switch {
	case app == nil:
		return nil, nil, signInError("Error signing in to Tableau Server (10085)")
	case err != nil:
		return nil, nil, signInError("Error signing in to Tableau Server (10084)")
	}
	if iss, _ := claims["iss"].(string); iss != app.clientID {
		return nil, nil, signInError("Error signing in to Tableau Server (10085)")
	}
	exp, _ := claims.GetExpirationTime()
	if exp == nil || time.Until(exp.Time) > 10*time.Minute {
		return nil, nil, signInError("Error signing in to Tableau Server (16)")
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		return nil, nil, signInError("Error signing in to Tableau Server (10084)")
	}
	sub, _ := claims["sub"].(string)
	user := s.findUser(st, sub)
	if user == nil {
		return nil, nil, signInError("Error signing in to Tableau Server (16)")
	}
	scopes := []string{}
	if list, ok := claims["scp"].([]any); ok {
		for _, v := range list {
			if sc, ok := v.(string); ok {
				scopes = append(scopes, sc)
			}
		}
	}
	return user, scopes, reply{}
}

func (s *Server) signOut(r *http.Request) reply {
	token := r.Header.Get("X-Tableau-Auth")
	s.mu.Lock()
	defer s.mu.Unlock()
	se, found := s.sessions[token]
	if !found || se.terminated {
		return fail(401, codeInvalidToken, "Unauthorized Access", "Invalid authentication credentials were provided.")
	}
	se.terminated = true
	if se.patName != "" && s.livePAT[se.patName] == token {
		delete(s.livePAT, se.patName)
	}
	return reply{status: http.StatusNoContent}
}

// formatTimeToExpiration writes Tableau's "days:hours:minutes".
func formatTimeToExpiration(d time.Duration) string {
	d = max(d, 0)
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	return fmt.Sprintf("%d:%02d:%02d", days, hours, mins)
}
