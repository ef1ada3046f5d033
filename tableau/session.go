package tableau

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/publicsuffix"
)

// Session is one signed-in Tableau session. It lives for one unit of work;
// tabflow never stores it.
type Session struct {
	client *Client
	base   *url.URL // the host that issued the token (a Cloud pod after a redirect)
	token  Secret   // masked whenever printed
	// SiteID is the site's LUID, used in /sites/{site-id}/… paths.
	SiteID         string
	SiteContentURL string
	UserID         string
	// PATExpiresIn is Tableau's estimatedTimeToExpiration for the PAT
	// (not the session); zero when Tableau did not say.
	PATExpiresIn time.Duration

	release  func()
	signOut  sync.Once
	signOutE error
}

// patLocks serialises sessions of one PAT inside this process: Tableau allows
// one live session per PAT, and a second sign-in ends the first.
var patLocks sync.Map // key → chan struct{} (capacity 1)

func (c *Client) lockPAT(ctx context.Context) (release func(), err error) {
	if c.cfg.authMethod() != AuthPAT {
		return func() {}, nil
	}
	key := c.cfg.ServerURL + "\x00" + c.cfg.Site + "\x00" + c.cfg.PATName
	v, _ := patLocks.LoadOrStore(key, make(chan struct{}, 1))
	ch := v.(chan struct{})
	start := c.now()
	select {
	case ch <- struct{}{}:
		c.observer.PATSessionWait(c.now().Sub(start))
		var once sync.Once
		return func() { once.Do(func() { <-ch }) }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for this PAT's previous session to end: %w", ctx.Err())
	}
}

// WithSession signs in, runs fn, and always signs out. It is the way to use
// a session: with a PAT, only one runs at a time in this process. budget
// (0 = none) bounds the sign-in and fn, counted once the session may start:
// waiting for a PAT's previous session is bounded by ctx alone.
func (c *Client) WithSession(ctx context.Context, budget time.Duration, fn func(ctx context.Context, s *Session) error) error {
	release, err := c.lockPAT(ctx)
	if err != nil {
		return err
	}
	if budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	s, err := c.signInLocked(ctx, release)
	if err != nil {
		return err
	}
	defer func() {
		// Sign out even when ctx is cancelled or its budget is spent, so the
		// PAT is free for the next session; a failure here does not undo fn's
		// work.
		outCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.SignOut(outCtx); err != nil {
			c.logger.Warn("tableau sign-out failed", slog.String("error", err.Error()))
		}
	}()
	return fn(ctx, s)
}

// SignIn opens a session. With a PAT it first waits for any other session of
// the same PAT in this process to sign out; call SignOut to free it.
func (c *Client) SignIn(ctx context.Context) (*Session, error) {
	release, err := c.lockPAT(ctx)
	if err != nil {
		return nil, err
	}
	return c.signInLocked(ctx, release)
}

// signInLocked signs in holding the PAT's lock; release frees it when the
// session ends (or at once if the sign-in fails).
func (c *Client) signInLocked(ctx context.Context, release func()) (*Session, error) {
	s, err := c.signIn(ctx)
	if err != nil {
		release()
		return nil, err
	}
	s.release = release
	return s, nil
}

func (c *Client) signIn(ctx context.Context) (*Session, error) {
	body, err := c.signInBody()
	if err != nil {
		return nil, err
	}
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
		e := newAPIError(resp.Response, resp.body, c.now(), c.cfg.secrets()...)
		e.SignIn, e.APIVersion = true, c.cfg.apiVersion()
		return nil, e
	}
	var out struct {
		Credentials *struct {
			Token string `json:"token"`
			Site  struct {
				ID         string `json:"id"`
				ContentURL string `json:"contentUrl"`
			} `json:"site"`
			User struct {
				ID string `json:"id"`
			} `json:"user"`
			EstimatedTimeToExpiration string `json:"estimatedTimeToExpiration"`
		} `json:"credentials"`
	}
	if json.Unmarshal(resp.body, &out) != nil || out.Credentials == nil {
		return nil, &APIError{
			StatusCode: resp.StatusCode, SignIn: true, Method: http.MethodPost, Path: resp.Request.URL.Path,
			Detail: "the answer is not Tableau's (wrong host, or a proxy page?): " + scrub(strings.TrimSpace(string(resp.body)), maxErrorBody, c.cfg.secrets()...),
		}
	}
	cr := out.Credentials
	if cr.Token == "" {
		return nil, ErrNoSessionToken
	}
	return &Session{
		client: c, base: base, token: NewSecret(cr.Token),
		SiteID: cr.Site.ID, SiteContentURL: cr.Site.ContentURL, UserID: cr.User.ID,
		PATExpiresIn: parseTimeToExpiration(cr.EstimatedTimeToExpiration),
	}, nil
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

func (c *Client) signInBody() ([]byte, error) {
	type site struct {
		ContentURL string `json:"contentUrl"`
	}
	type credentials struct {
		PATName   string `json:"personalAccessTokenName,omitempty"`
		PATSecret string `json:"personalAccessTokenSecret,omitempty"`
		Name      string `json:"name,omitempty"`
		Password  string `json:"password,omitempty"`
		JWT       string `json:"jwt,omitempty"`
		Site      site   `json:"site"`
	}
	cr := credentials{Site: site{ContentURL: c.cfg.Site}}
	switch c.cfg.authMethod() {
	case AuthJWT:
		tok, err := c.cfg.JWT.sign(c.now())
		if err != nil {
			return nil, err
		}
		cr.JWT = tok
	case AuthPassword:
		cr.Name, cr.Password = c.cfg.Username, c.cfg.Password.reveal()
	default:
		cr.PATName, cr.PATSecret = c.cfg.PATName, c.cfg.PATSecret.reveal()
	}
	return json.Marshal(map[string]credentials{"credentials": cr})
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// checkRedirect allows one sign-in redirect (Tableau Cloud sending a client
// to its pod) only over HTTPS and only to a host under the same parent
// domain, so credentials are never re-sent somewhere else.
func (c *Client) checkRedirect(from *url.URL, location string) (*url.URL, error) {
	to, err := from.Parse(location)
	if err != nil || location == "" {
		return nil, &RedirectError{From: from.Host, To: location, Reason: "not a valid URL"}
	}
	if to.Scheme != "https" {
		return nil, &RedirectError{From: from.Host, To: to.String(), Reason: "not HTTPS"}
	}
	if !sameParentDomain(from.Hostname(), to.Hostname()) {
		return nil, &RedirectError{From: from.Host, To: to.String(), Reason: "a host outside " + parentDomain(from.Hostname())}
	}
	return to, nil
}

// sameParentDomain decides whether a sign-in may follow a redirect from one
// host to another: a Tableau Cloud pod only to another pod under
// online.tableau.com; any other host only within its registrable domain,
// decided with the public suffix list (so acme.co.uk never reaches
// evil.co.uk). An IP address only to itself.
func sameParentDomain(from, to string) bool {
	from, to = strings.ToLower(from), strings.ToLower(to)
	switch {
	case from == to:
		return true
	case net.ParseIP(from) != nil || net.ParseIP(to) != nil:
		return false
	case IsTableauCloud(from):
		return IsTableauCloud(to)
	}
	a, errA := publicsuffix.EffectiveTLDPlusOne(from)
	b, errB := publicsuffix.EffectiveTLDPlusOne(to)
	return errA == nil && errB == nil && a == b
}

// parentDomain names what a redirect must stay within, for messages.
func parentDomain(host string) string {
	if IsTableauCloud(host) {
		return "online.tableau.com"
	}
	if d, err := publicsuffix.EffectiveTLDPlusOne(strings.ToLower(host)); err == nil {
		return d
	}
	return host
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(h)
	}
	return strings.ToLower(hostport)
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
