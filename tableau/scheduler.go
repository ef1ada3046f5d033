package tableau

import (
	"context"
	"sync"
	"time"

	"tabflow/internal/urgency"
)

// sessionScheduler gives PATs to the sessions of this process by the rules
// of turns: one place decides which session runs next. It is one per
// process, as a PAT is one per process whatever the number of clients.
type sessionScheduler struct {
	mu      sync.Mutex
	turns   *turns
	granted map[*turnWaiter]chan string
	fewer   chan struct{} // closed (and replaced) when a waiter stops waiting
}

var sessions = &sessionScheduler{turns: newTurns(), granted: map[*turnWaiter]chan string{}, fewer: make(chan struct{})}

// take waits for one of pats (keys, in order of preference), served by the
// urgency ctx carries, then arrival; release ends the turn.
func (s *sessionScheduler) take(ctx context.Context, pats []string, now func() time.Time) (pat string, release func(), err error) {
	w := &turnWaiter{urgency: urgencyOf(ctx), arrived: now(), pats: pats}
	ch := make(chan string, 1)
	s.mu.Lock()
	s.granted[w] = ch
	s.deliver(s.turns.arrive(w, w.arrived))
	s.mu.Unlock()
	select {
	case pat = <-ch:
	case <-ctx.Done():
		s.mu.Lock()
		if s.turns.giveUp(w) {
			delete(s.granted, w)
			s.signalFewer()
			s.mu.Unlock()
			return "", nil, ctx.Err()
		}
		s.mu.Unlock()
		s.leave(<-ch, now) // granted as it gave up: the next one's turn
		return "", nil, ctx.Err()
	}
	var once sync.Once
	return pat, func() { once.Do(func() { s.leave(pat, now) }) }, nil
}

func (s *sessionScheduler) leave(pat string, now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliver(s.turns.leave(pat, now()))
}

// deliver hands each grant to its waiter; s.mu is held.
func (s *sessionScheduler) deliver(grants []turnGrant) {
	for _, g := range grants {
		s.granted[g.w] <- g.pat
		delete(s.granted, g.w)
	}
	if len(grants) > 0 {
		s.signalFewer()
	}
}

func (s *sessionScheduler) signalFewer() {
	close(s.fewer)
	s.fewer = make(chan struct{})
}

// waiting is how many sessions wait for a PAT, and a channel closed once
// one of them stops waiting.
func (s *sessionScheduler) waiting() (int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.turns.waiting), s.fewer
}

// mostUrgent is the most urgent level among the sessions waiting for pat
// (0 if none): what this process asks the fleet's lease for on their behalf.
func (s *sessionScheduler) mostUrgent(pat string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	most := 0
	for _, w := range s.turns.waiting {
		for _, p := range w.pats {
			if p == pat && (most == 0 || w.urgency < most) {
				most = w.urgency
			}
		}
	}
	return most
}

// SessionsWaiting is how many sessions of this process wait for a PAT, and a
// channel closed once one stops waiting: a worker takes new work only while
// few wait, so the rest waits in Temporal's task queue, where it is served
// by priority too.
func SessionsWaiting() (int, <-chan struct{}) { return sessions.waiting() }

type urgencyKey struct{}

// WithUrgency says how urgent the sessions opened with ctx are (SPEC §3.3;
// urgency.Revoke … urgency.Read): they are served in that order, here and
// at the fleet's lease.
func WithUrgency(ctx context.Context, level int) context.Context {
	return context.WithValue(ctx, urgencyKey{}, urgency.Of(level))
}

func urgencyOf(ctx context.Context) int {
	if level, ok := ctx.Value(urgencyKey{}).(int); ok {
		return level
	}
	return urgency.Direct
}
