package tableau

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"
)

// Which PAT a session signs in with, one session per PAT at a time in this
// process (Tableau allows one live session per PAT), and the PATs of a pool
// Tableau rejected.

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
