package tableau

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"reflect"
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
	// PATName is the PAT of the pool this session signed in with.
	PATName string

	release  func()
	signOut  sync.Once
	signOutE error
}

// patLocks serialises sessions of one PAT inside this process: Tableau allows
// one live session per PAT, and a second sign-in ends the first.
var patLocks sync.Map // key → chan struct{} (capacity 1)

// patBench holds PATs of a pool that Tableau rejected, left out until the
// time stored (or until a health check finds them working again).
var patBench sync.Map // key → time.Time

// benchFor is how long a rejected PAT of a pool is left out.
const benchFor = 10 * time.Minute

func (c *Client) patKey(p PAT) string {
	return c.cfg.ServerURL + "\x00" + c.cfg.Site + "\x00" + p.Name
}

func benched(key string, now time.Time) bool {
	until, ok := patBench.Load(key)
	return ok && now.Before(until.(time.Time))
}

// lockPAT takes the in-process lock of PAT want, or (want < 0) of any PAT of
// the pool that is free, trying the pool round-robin and then waiting for the
// first to come free. PATs Tableau rejected are passed over while others work.
func (c *Client) lockPAT(ctx context.Context, want int) (release func(), pat int, err error) {
	if c.cfg.authMethod() != AuthPAT {
		return func() {}, 0, nil
	}
	pats := c.cfg.PATs()
	var candidates []int
	if want >= 0 {
		candidates = []int{want}
	} else {
		for i, p := range pats {
			if !benched(c.patKey(p), c.now()) {
				candidates = append(candidates, i)
			}
		}
		if len(candidates) == 0 { // every PAT rejected: try them all again
			for i := range pats {
				candidates = append(candidates, i)
			}
		}
		offset := int(c.nextPAT.Add(1)) % len(candidates)
		candidates = append(candidates[offset:], candidates[:offset]...)
	}
	chans := make([]chan struct{}, len(candidates))
	for i, idx := range candidates {
		v, _ := patLocks.LoadOrStore(c.patKey(pats[idx]), make(chan struct{}, 1))
		chans[i] = v.(chan struct{})
	}
	start := c.now()
	got := -1
	for i, ch := range chans { // a free PAT at once, if any
		select {
		case ch <- struct{}{}:
			got = i
		default:
			continue
		}
		break
	}
	if got < 0 {
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
		for _, ch := range chans {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectSend, Chan: reflect.ValueOf(ch), Send: reflect.ValueOf(struct{}{})})
		}
		chosen, _, _ := reflect.Select(cases)
		if chosen == 0 {
			return nil, 0, fmt.Errorf("waiting for this PAT's previous session to end: %w", ctx.Err())
		}
		got = chosen - 1
	}
	c.observer.PATSessionWait(c.now().Sub(start))
	ch := chans[got]
	var once sync.Once
	return func() { once.Do(func() { <-ch }) }, candidates[got], nil
}

// WithSession signs in, runs fn, and always signs out. It is the way to use
// a session: with a PAT, only one runs at a time per PAT in this process
// (and across the fleet, with WithFleetLock); with a pool, it takes any free
// PAT. budget (0 = none) bounds the sign-in and fn, counted once the session
// may start: waiting for a PAT's previous session is bounded by ctx alone.
func (c *Client) WithSession(ctx context.Context, budget time.Duration, fn func(ctx context.Context, s *Session) error) error {
	return c.withSession(ctx, -1, budget, fn)
}

// WithPATSession is WithSession with PAT number i of the pool (0 = the
// first): the health check signs in with each.
func (c *Client) WithPATSession(ctx context.Context, i int, budget time.Duration, fn func(ctx context.Context, s *Session) error) error {
	if c.cfg.authMethod() != AuthPAT || i < 0 || i >= len(c.cfg.PATs()) {
		return fmt.Errorf("no PAT number %d in this connection", i)
	}
	return c.withSession(ctx, i, budget, fn)
}

func (c *Client) withSession(ctx context.Context, want int, budget time.Duration, fn func(ctx context.Context, s *Session) error) error {
	for attempt := 0; ; attempt++ {
		err := c.trySession(ctx, want, budget, fn)
		var rejected *patRejected
		if !errors.As(err, &rejected) {
			return err
		}
		// A rejected PAT of a pool is left out for a while and another one
		// tried, so one revoked token does not fail access decisions.
		patBench.Store(c.patKey(rejected.pat), c.now().Add(benchFor))
		c.logger.Warn("Tableau rejected a PAT of the pool: left out until it works again", slog.String("pat", rejected.pat.Name), slog.String("error", rejected.err.Error()))
		if want >= 0 || attempt+1 >= len(c.cfg.PATs()) {
			return rejected.err
		}
	}
}

// patRejected is a pool PAT's sign-in that Tableau refused.
type patRejected struct {
	pat PAT
	err error
}

func (e *patRejected) Error() string { return e.err.Error() }

func (c *Client) trySession(ctx context.Context, want int, budget time.Duration, fn func(ctx context.Context, s *Session) error) error {
	release, pat, err := c.lockPAT(ctx, want)
	if err != nil {
		return err
	}
	pats := c.cfg.PATs()
	if c.fleet != nil && c.cfg.authMethod() == AuthPAT {
		lost, releaseLease, err := c.fleet.Acquire(ctx, c.cfg.PATLeaseKey(pats[pat]))
		if err != nil {
			release()
			return fmt.Errorf("waiting for this PAT's lease: %w", err)
		}
		local := release
		release = func() { releaseLease(); local() }
		// A lease that cannot be renewed in time ends the calls at once, so
		// the session signs out before the PAT can pass to another worker.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-lost:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	if budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	s, err := c.signInLocked(ctx, pat, release)
	if err != nil {
		if IsSignInRejected(err) && c.cfg.authMethod() == AuthPAT && len(pats) > 1 {
			return &patRejected{pat: pats[pat], err: err}
		}
		return err
	}
	patBench.Delete(c.patKey(pats[pat])) // it works
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

// SignIn opens a session. With a PAT it first waits for a PAT of the pool
// to be free in this process; call SignOut to free it.
func (c *Client) SignIn(ctx context.Context) (*Session, error) {
	release, pat, err := c.lockPAT(ctx, -1)
	if err != nil {
		return nil, err
	}
	return c.signInLocked(ctx, pat, release)
}

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
	body, err := c.signInBody(pat)
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
	var patName string
	if c.cfg.authMethod() == AuthPAT {
		patName = c.cfg.PATs()[pat].Name
	}
	return &Session{
		client: c, base: base, token: NewSecret(cr.Token), PATName: patName,
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

func (c *Client) signInBody(pat int) ([]byte, error) {
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
		p := c.cfg.PATs()[pat]
		cr.PATName, cr.PATSecret = p.Name, p.Secret.reveal()
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
