package tableau

import (
	"slices"
	"time"

	"tabflow/internal/urgency"
)

// The rules of whose session runs next in this process, in plain Go.
// Tableau allows one live session per PAT, so sessions of a PAT take turns:
// a waiter is served by urgency (SPEC §3.3, one level more urgent per
// urgency.AgingStep waited, so no level starves), then by arrival, with the
// first PAT of its preference that is free. The scheduler (scheduler.go)
// only feeds these rules arrivals, departures and give-ups.

// turnWaiter is a session waiting for a PAT.
type turnWaiter struct {
	urgency int
	arrived time.Time
	order   uint64   // arrival order, for waiters that arrived at one instant
	pats    []string // the PATs it may take (keys), in its order of preference
}

// turnGrant is a PAT given to a waiter.
type turnGrant struct {
	w   *turnWaiter
	pat string
}

// turns is who holds which PAT and who waits.
type turns struct {
	busy     map[string]bool
	waiting  []*turnWaiter
	arrivals uint64
}

func newTurns() *turns { return &turns{busy: map[string]bool{}} }

// arrive queues w and serves whoever can be served now.
func (t *turns) arrive(w *turnWaiter, now time.Time) []turnGrant {
	t.arrivals++
	w.order = t.arrivals
	t.waiting = append(t.waiting, w)
	return t.serve(now)
}

// leave frees pat, ending a session, and serves the next waiters.
func (t *turns) leave(pat string, now time.Time) []turnGrant {
	delete(t.busy, pat)
	return t.serve(now)
}

// giveUp removes w if it still waits (its caller stopped waiting); false
// when it was already granted a PAT, which it must then leave.
func (t *turns) giveUp(w *turnWaiter) bool {
	i := slices.Index(t.waiting, w)
	if i < 0 {
		return false
	}
	t.waiting = slices.Delete(t.waiting, i, i+1)
	return true
}

// serve grants free PATs to waiters in the order they are served.
func (t *turns) serve(now time.Time) []turnGrant {
	slices.SortStableFunc(t.waiting, func(x, y *turnWaiter) int {
		if d := urgency.Effective(x.urgency, now.Sub(x.arrived)) - urgency.Effective(y.urgency, now.Sub(y.arrived)); d != 0 {
			return d
		}
		return int(x.order) - int(y.order)
	})
	var grants []turnGrant
	t.waiting = slices.DeleteFunc(t.waiting, func(w *turnWaiter) bool {
		for _, pat := range w.pats {
			if !t.busy[pat] {
				t.busy[pat] = true
				grants = append(grants, turnGrant{w: w, pat: pat})
				return true
			}
		}
		return false
	})
	return grants
}
