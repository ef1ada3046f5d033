package tableau

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// signInLocked signs in holding the PAT's lock; release frees it when the
// session ends (or at once if the sign-in fails).
func (c *Client) signInLocked(ctx context.Context, pat int, release func()) (*Session, error) {
	s, err := c.signIn(ctx, pat)
	if err != nil {
		release()
		return nil, err
	}
	s.release = release
	return s, nil
}

func (c *Client) signIn(ctx context.Context, pat int) (*Session, error) {
	body, jwt, err := c.signInBody(pat)
	if err != nil {
		return nil, err
	}
	// The signed JWT opens Tableau for its lifetime: a proxy that echoes the
	// sign-in body must not carry it into an error (and so into history).
	secrets := append(c.cfg.secrets(), jwt)
	base := c.baseURL()
	target := c.versioned(base, "auth/signin")
	resp, err := c.send(ctx, http.MethodPost, target, body, Secret{})
	if err != nil {
		return nil, err
	}
	if isRedirect(resp.StatusCode) {
		next, err := c.checkRedirect(target, resp.Header.Get("Location"))
		if err != nil {
			return nil, err
		}
		base = &url.URL{Scheme: next.Scheme, Host: next.Host}
		if resp, err = c.send(ctx, http.MethodPost, next, body, Secret{}); err != nil {
			return nil, err
		}
		if isRedirect(resp.StatusCode) {
			return nil, &RedirectError{From: next.Host, To: resp.Header.Get("Location"), Reason: "a second redirect (only one is followed)"}
		}
	}
	if resp.StatusCode/100 != 2 {
		e := newAPIError(resp.Response, resp.body, c.now(), secrets...)
		e.SignIn, e.APIVersion = true, c.cfg.apiVersion()
		return nil, e
	}
	answer, decoded := readSignIn(resp.body)
	if answer.token != "" {
		// Whatever goes wrong from here, the token never reaches an error, a
		// log or history, and its session does not outlive this sign-in.
		secrets = append(secrets, NewSecret(answer.token))
	}
	var problem error
	switch {
	case !decoded:
		problem = &APIError{
			StatusCode: resp.StatusCode, SignIn: true, Method: http.MethodPost, Path: resp.Request.URL.Path,
			Detail: "the answer is not Tableau's (wrong host, or a proxy page?): " + scrub(strings.TrimSpace(string(resp.body)), maxErrorBody, secrets...),
		}
	case answer.token == "":
		return nil, ErrNoSessionToken
	case answer.siteID == "":
		problem = &APIError{
			StatusCode: resp.StatusCode, SignIn: true, Method: http.MethodPost, Path: resp.Request.URL.Path,
			Detail: "the answer has no site ID (credentials.site.id): " + scrub(strings.TrimSpace(string(resp.body)), maxErrorBody, secrets...),
		}
	}
	var patName string
	if c.cfg.authMethod() == AuthPAT {
		patName = c.cfg.PATs()[pat].Name
	}
	s := &Session{
		client: c, base: base, token: NewSecret(answer.token), PATName: patName, release: func() {},
		SiteID: answer.siteID, SiteContentURL: answer.contentURL, UserID: answer.userID,
		PATExpiresIn: parseTimeToExpiration(answer.expiration),
	}
	if problem != nil {
		if answer.token != "" {
			outCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := s.SignOut(outCtx); err != nil {
				c.logger.Warn("tableau sign-out after an unreadable sign-in answer failed", slog.String("error", err.Error()))
			}
		}
		return nil, problem
	}
	return s, nil
}

// signInAnswer is what tabflow needs from a 2xx sign-in answer.
type signInAnswer struct{ token, siteID, contentURL, userID, expiration string }

// tokenField finds a session token in an answer that is not JSON at all
// (truncated, or a proxy's rewrite), so it can be redacted and signed out.
var tokenField = regexp.MustCompile(`"token"\s*:\s*"([^"]*)"`)

// readSignIn reads a 2xx sign-in answer leniently: a field of an unexpected
// type (a Tableau change, a proxy) costs that field, never the token's
// secrecy. decoded is false when the answer is not Tableau's JSON at all;
// the token is still found when it can be.
func readSignIn(body []byte) (a signInAnswer, decoded bool) {
	var raw struct {
		Credentials map[string]any `json:"credentials"`
	}
	if json.Unmarshal(body, &raw) != nil || raw.Credentials == nil {
		if m := tokenField.FindSubmatch(body); m != nil {
			a.token = string(m[1])
		}
		return a, false
	}
	cr := raw.Credentials
	text := func(m map[string]any, key string) string { s, _ := m[key].(string); return s }
	object := func(key string) map[string]any { m, _ := cr[key].(map[string]any); return m }
	return signInAnswer{
		token: text(cr, "token"), siteID: text(object("site"), "id"), contentURL: text(object("site"), "contentUrl"),
		userID: text(object("user"), "id"), expiration: text(cr, "estimatedTimeToExpiration"),
	}, true
}

// SignOut ends the session and frees the PAT for the next one. A 401 means
// Tableau already ended it, which is fine. Calling it twice is harmless.
func (s *Session) SignOut(ctx context.Context) error {
	s.signOut.Do(func() {
		defer s.release()
		c := s.client
		resp, err := c.send(ctx, http.MethodPost, c.versioned(s.base, "auth/signout"), nil, s.token)
		if err != nil {
			s.signOutE = err
			return
		}
		if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusUnauthorized {
			s.signOutE = newAPIError(resp.Response, resp.body, c.now(), append(c.cfg.secrets(), s.token)...)
		}
	})
	return s.signOutE
}

// signInBody is the sign-in request, and the JWT it carries (if any), which
// is a secret like the others.
func (c *Client) signInBody(pat int) ([]byte, Secret, error) {
	type site struct {
		ContentURL string `json:"contentUrl"`
	}
	type credentials struct {
		PATName   string `json:"personalAccessTokenName,omitempty"`
		PATSecret string `json:"personalAccessTokenSecret,omitempty"`
		Name      string `json:"name,omitempty"`
		Password  string `json:"password,omitempty"`
		JWT       string `json:"jwt,omitempty"`
		IsUAT     bool   `json:"isUat,omitempty"`
		Site      site   `json:"site"`
	}
	cr := credentials{Site: site{ContentURL: c.cfg.Site}}
	var jwt Secret
	switch c.cfg.authMethod() {
	case AuthJWT:
		tok, err := c.cfg.JWT.sign(c.now())
		if err != nil {
			return nil, Secret{}, err
		}
		cr.JWT, jwt = tok, NewSecret(tok)
	case AuthUAT:
		tok, err := c.cfg.UAT.sign(c.now())
		if err != nil {
			return nil, Secret{}, err
		}
		cr.JWT, cr.IsUAT, jwt = tok, true, NewSecret(tok)
	case AuthPassword:
		cr.Name, cr.Password = c.cfg.Username, c.cfg.Password.reveal()
	default:
		p := c.cfg.PATs()[pat]
		cr.PATName, cr.PATSecret = p.Name, p.Secret.reveal()
	}
	body, err := json.Marshal(map[string]credentials{"credentials": cr})
	return body, jwt, err
}

// parseTimeToExpiration reads Tableau's "days:hours:minutes" (e.g. 177:05:38).
func parseTimeToExpiration(v string) time.Duration {
	parts := strings.Split(strings.TrimSpace(v), ":")
	if len(parts) != 3 {
		return 0
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return 0
		}
		n[i] = x
	}
	return time.Duration(n[0])*24*time.Hour + time.Duration(n[1])*time.Hour + time.Duration(n[2])*time.Minute
}
