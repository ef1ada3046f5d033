package tableau

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Which PAT a session signs in with, one session per PAT at a time in this
// process (Tableau allows one live session per PAT; scheduler.go decides
// whose turn it is), and the PATs of a pool Tableau rejected.

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

// lockPAT takes PAT want, or (want < 0) any PAT of the pool, in this
// process: its turn comes from the session scheduler, by urgency then
// arrival. A pool is tried round-robin, and PATs Tableau rejected are passed
// over while others work.
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
	keys := make([]string, len(candidates))
	for i, idx := range candidates {
		keys[i] = c.patKey(pats[idx])
	}
	start := c.now()
	key, release, err := sessions.take(ctx, keys, c.now)
	if err != nil {
		return nil, 0, fmt.Errorf("waiting for this PAT's previous session to end: %w", err)
	}
	c.observer.PATSessionWait(c.now().Sub(start))
	return release, candidates[slices.Index(keys, key)], nil
}
