package tableau

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/internal/urgency"
)

var turnsT0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// turnStep is one event for the rules: a session named who arrives (with
// its urgency and the PATs it may take) or leaves its PAT, at turnsT0 + at;
// grants is who was given which PAT then, "who:PAT" in the order served.
type turnStep struct {
	at      time.Duration
	arrive  string
	level   int
	pats    string // e.g. "A" or "A,B"
	leave   string // a PAT
	giveUp  string
	granted string
}

func TestTurns(t *testing.T) {
	cases := []struct {
		name  string
		steps []turnStep
	}{
		{"a free PAT is taken at once, a busy one waited for", []turnStep{
			{arrive: "bulk1", level: urgency.Direct, pats: "A", granted: "bulk1:A"},
			{arrive: "bulk2", level: urgency.Direct, pats: "A"},
			{leave: "A", granted: "bulk2:A"},
		}},
		{"a revoke goes before every bulk session queued before it", []turnStep{
			{arrive: "bulk1", level: urgency.Direct, pats: "A", granted: "bulk1:A"},
			{arrive: "bulk2", level: urgency.Direct, pats: "A"},
			{arrive: "bulk3", level: urgency.Direct, pats: "A"},
			{arrive: "revoke", level: urgency.Revoke, pats: "A"},
			{leave: "A", granted: "revoke:A"},
			{leave: "A", granted: "bulk2:A"},
			{leave: "A", granted: "bulk3:A"},
		}},
		{"the order of urgency, then arrival", []turnStep{
			{arrive: "running", level: urgency.Read, pats: "A", granted: "running:A"},
			{arrive: "list", level: urgency.Read, pats: "A"},
			{arrive: "apply", level: urgency.ReconcileApply, pats: "A"},
			{arrive: "provision", level: urgency.Direct, pats: "A"},
			{arrive: "grant1", level: urgency.Grant, pats: "A"},
			{arrive: "grant2", level: urgency.Grant, pats: "A"},
			{arrive: "revoke", level: urgency.Revoke, pats: "A"},
			{leave: "A", granted: "revoke:A"},
			{leave: "A", granted: "grant1:A"},
			{leave: "A", granted: "grant2:A"},
			{leave: "A", granted: "provision:A"},
			{leave: "A", granted: "apply:A"},
			{leave: "A", granted: "list:A"},
		}},
		{"no level starves: a listing that waited 4 aging steps goes before a revoke that just came", []turnStep{
			{arrive: "bulk", level: urgency.Direct, pats: "A", granted: "bulk:A"},
			{arrive: "list", level: urgency.Read, pats: "A"},
			{at: 4 * urgency.AgingStep, arrive: "revoke", level: urgency.Revoke, pats: "A"},
			{at: 4 * urgency.AgingStep, leave: "A", granted: "list:A"},
			{at: 4 * urgency.AgingStep, leave: "A", granted: "revoke:A"},
		}},
		{"aging is one level per step: a listing that waited 1 step is not yet a grant", []turnStep{
			{arrive: "bulk", level: urgency.Direct, pats: "A", granted: "bulk:A"},
			{arrive: "list", level: urgency.Read, pats: "A"},
			{at: urgency.AgingStep, arrive: "grant", level: urgency.Grant, pats: "A"},
			{at: urgency.AgingStep, leave: "A", granted: "grant:A"},
		}},
		{"a pool: each takes the first free PAT it may use", []turnStep{
			{arrive: "s1", level: urgency.Direct, pats: "A,B", granted: "s1:A"},
			{arrive: "s2", level: urgency.Direct, pats: "A,B", granted: "s2:B"},
			{arrive: "s3", level: urgency.Direct, pats: "B,A"},
			{arrive: "revoke", level: urgency.Revoke, pats: "B,A"},
			{leave: "A", granted: "revoke:A"},
			{leave: "B", granted: "s3:B"},
		}},
		{"a session that wants one PAT of the pool does not hold up one that may take another", []turnStep{
			{arrive: "s1", level: urgency.Direct, pats: "A", granted: "s1:A"},
			{arrive: "check", level: urgency.Revoke, pats: "A"},
			{arrive: "s2", level: urgency.Direct, pats: "A,B", granted: "s2:B"},
			{leave: "A", granted: "check:A"},
		}},
		{"one who gave up is passed over", []turnStep{
			{arrive: "bulk", level: urgency.Direct, pats: "A", granted: "bulk:A"},
			{arrive: "revoke", level: urgency.Revoke, pats: "A"},
			{arrive: "grant", level: urgency.Grant, pats: "A"},
			{giveUp: "revoke"},
			{leave: "A", granted: "grant:A"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTurns()
			waiters := map[string]*turnWaiter{}
			for i, s := range c.steps {
				now := turnsT0.Add(s.at)
				var grants []turnGrant
				switch {
				case s.arrive != "":
					w := &turnWaiter{urgency: s.level, arrived: now, pats: strings.Split(s.pats, ",")}
					waiters[s.arrive] = w
					grants = tr.arrive(w, now)
				case s.leave != "":
					grants = tr.leave(s.leave, now)
				case s.giveUp != "":
					require.True(t, tr.giveUp(waiters[s.giveUp]), "step %d: %s still waited", i, s.giveUp)
				}
				var got []string
				for _, g := range grants {
					for name, w := range waiters {
						if w == g.w {
							got = append(got, name+":"+g.pat)
						}
					}
				}
				assert.Equal(t, s.granted, strings.Join(got, ","), "step %d", i)
			}
		})
	}
}

// The scheduler hands PATs to goroutines by the rules: a revoke that comes
// while bulk sessions wait runs next, and one that gives up frees its place.
func TestSchedulerServesARevokeNext(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	pat := []string{fmt.Sprintf("scheduler-test-%d", time.Now().UnixNano())}
	_, release, err := sessions.take(ctx, pat, time.Now)
	require.NoError(t, err)

	order := make(chan string, 4)
	start := func(name string, level, queued int) {
		go func() {
			_, release, err := sessions.take(WithUrgency(ctx, level), pat, time.Now)
			if !assert.NoError(t, err) {
				return
			}
			order <- name
			release()
		}()
		// the next one starts once this one queued: their arrival is known
		require.Eventually(t, func() bool { return waitingFor(pat[0]) == queued }, 5*time.Second, time.Millisecond)
	}
	start("bulk1", urgency.Direct, 1)
	start("bulk2", urgency.Direct, 2)
	start("revoke", urgency.Revoke, 3)
	assert.Equal(t, urgency.Revoke, sessions.mostUrgent(pat[0]), "what this process asks the fleet's lease at")

	gaveUp, giveUp := context.WithCancel(ctx)
	_, _, err = func() (string, func(), error) {
		go func() { time.Sleep(20 * time.Millisecond); giveUp() }()
		return sessions.take(WithUrgency(gaveUp, urgency.Revoke), pat, time.Now)
	}()
	require.ErrorIs(t, err, context.Canceled)

	release()
	var got []string
	for range 3 {
		got = append(got, <-order)
	}
	assert.Equal(t, []string{"revoke", "bulk1", "bulk2"}, got)
	n, _ := sessions.waiting()
	assert.Zero(t, n, "nobody waits once all ran")
}

// waitingFor counts the sessions waiting for pat.
func waitingFor(pat string) int {
	sessions.mu.Lock()
	defer sessions.mu.Unlock()
	n := 0
	for _, w := range sessions.turns.waiting {
		if w.pats[0] == pat {
			n++
		}
	}
	return n
}
