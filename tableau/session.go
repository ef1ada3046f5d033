package tableau

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"
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

// takePAT takes a PAT of the pool for one session: its lock in this
// process and, across a fleet, its lease (lost closes if the lease cannot be
// kept). release frees both.
func (c *Client) takePAT(ctx context.Context, want int) (release func(), lost <-chan struct{}, pat int, err error) {
	if c.fleet == nil || c.cfg.authMethod() != AuthPAT {
		release, pat, err = c.lockPAT(ctx, want)
		return release, nil, pat, err
	}
	start := c.now()
	// With a pool, a PAT free in this worker may be in use by another: try
	// each PAT's lease briefly, round-robin, before waiting on one, so a
	// session takes a PAT free fleet-wide when there is one.
	if want < 0 && len(c.cfg.PATs()) > 1 {
		for range c.cfg.PATs() {
			quick, cancel := context.WithTimeout(ctx, poolLeaseTry)
			release, lost, pat, err = c.leasePAT(quick, -1)
			cancel()
			if err == nil || ctx.Err() != nil {
				break
			}
		}
	}
	if release == nil {
		release, lost, pat, err = c.leasePAT(ctx, want)
	}
	if err != nil {
		return nil, nil, 0, err
	}
	c.observer.PATLeaseWait(c.now().Sub(start))
	return release, lost, pat, nil
}

// poolLeaseTry is how long a session of a pool tries one PAT's fleet lease
// before it tries the next PAT.
const poolLeaseTry = 300 * time.Millisecond

// leasePAT takes a PAT's lock in this process, then its fleet lease.
func (c *Client) leasePAT(ctx context.Context, want int) (release func(), lost <-chan struct{}, pat int, err error) {
	local, pat, err := c.lockPAT(ctx, want)
	if err != nil {
		return nil, nil, 0, err
	}
	key := c.patKey(c.cfg.PATs()[pat])
	level := SessionUrgency{Own: urgencyOf(ctx), Behind: func() int { return sessions.mostUrgent(key) }}
	lost, releaseLease, err := c.fleet.Acquire(ctx, c.cfg.PATLeaseKey(c.cfg.PATs()[pat]), level)
	if err != nil {
		local()
		return nil, nil, 0, fmt.Errorf("waiting for this PAT's lease: %w", err)
	}
	return func() { releaseLease(); local() }, lost, pat, nil
}

func (c *Client) trySession(ctx context.Context, want int, budget time.Duration, fn func(ctx context.Context, s *Session) error) error {
	release, lost, pat, err := c.takePAT(ctx, want)
	if err != nil {
		return err
	}
	pats := c.cfg.PATs()
	if lost != nil {
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
// to be free in this process and, across a fleet, for its lease; call
// SignOut to free both.
func (c *Client) SignIn(ctx context.Context) (*Session, error) {
	release, _, pat, err := c.takePAT(ctx, -1) // the fleet lease too: never two sessions of a PAT
	if err != nil {
		return nil, err
	}
	return c.signInLocked(ctx, pat, release)
}
