package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/internal/urgency"
)

var leaseT0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// step is one message to the book, at leaseT0 + at.
type step struct {
	at      time.Duration
	op      string // ask, renew, release, settle
	holder  string
	urgency int
}

func (s step) apply(b *leaseBook) error {
	now := leaseT0.Add(s.at)
	switch s.op {
	case "ask":
		b.ask(LeaseRequest{Holder: s.holder, Urgency: s.urgency}, now)
	case "renew":
		_, err := b.renew(LeaseRequest{Holder: s.holder}, now)
		return err
	case "release":
		b.release(s.holder, now)
	case "settle":
		b.settle(now)
	}
	return nil
}

func TestLeaseBookRules(t *testing.T) {
	const ttl = 10 * time.Second
	cases := []struct {
		name    string
		start   PATLeaseV2Input
		steps   []step
		holder  string
		claimed bool
		expires time.Duration // from leaseT0; checked when holder is set
		waiting []string      // in serving order
	}{
		{name: "the first ask is offered the lease until its freshness ends",
			steps:  []step{{0, "ask", "a", 0}},
			holder: "a", expires: leaseStaleAfter},
		{name: "a claim starts the TTL",
			steps:  []step{{0, "ask", "a", 0}, {time.Second, "renew", "a", 0}},
			holder: "a", claimed: true, expires: time.Second + ttl},
		{name: "an offer seen late lasts while its waiter asks",
			steps:  []step{{0, "ask", "a", 0}, {5 * time.Second, "ask", "a", 0}, {10 * time.Second, "settle", "", 0}},
			holder: "a", expires: 5*time.Second + leaseStaleAfter},
		{name: "an unclaimed offer to a waiter that stopped asking passes on",
			steps:  []step{{0, "ask", "dead", 0}, {0, "ask", "b", 0}, {time.Second, "ask", "b", 0}, {leaseStaleAfter, "settle", "", 0}},
			holder: "b", expires: time.Second + leaseStaleAfter},
		{name: "one holder at a time, the others in arrival order",
			steps:  []step{{0, "ask", "a", 0}, {0, "renew", "a", 0}, {time.Second, "ask", "b", 0}, {2 * time.Second, "ask", "c", 0}},
			holder: "a", claimed: true, expires: ttl,
			waiting: []string{"b", "c"}},
		{name: "a release hands the lease to the next",
			steps:  []step{{0, "ask", "a", 0}, {0, "renew", "a", 0}, {time.Second, "ask", "b", 0}, {2 * time.Second, "release", "a", 0}},
			holder: "b", expires: time.Second + leaseStaleAfter},
		{name: "an unrenewed lease expires",
			steps:  []step{{0, "ask", "a", 0}, {0, "renew", "a", 0}, {9 * time.Second, "ask", "b", 0}, {ttl, "settle", "", 0}},
			holder: "b", expires: 9*time.Second + leaseStaleAfter},
		{name: "more urgent first, then by arrival",
			steps: []step{{0, "ask", "a", 0}, {0, "renew", "a", 0},
				{time.Second, "ask", "list", 5}, {time.Second, "ask", "grant", 2}, {2 * time.Second, "ask", "revoke", 1}, {2 * time.Second, "ask", "provision", 0}},
			holder: "a", claimed: true, expires: ttl,
			waiting: []string{"revoke", "grant", "provision", "list"}},
		{name: "waiting raises urgency a level per aging step: no level starves",
			start: PATLeaseV2Input{Holder: "a", Claimed: true, Expires: leaseT0.Add(time.Hour), HolderTTL: time.Hour,
				Waiters: []LeaseWaiter{{Holder: "list", Urgency: 5, Arrived: leaseT0.Add(-4 * urgency.AgingStep), Asked: leaseT0}}},
			steps:  []step{{0, "ask", "revoke", 1}},
			holder: "a", claimed: true, expires: time.Hour,
			waiting: []string{"list", "revoke"}},
		{name: "a withdrawn waiter is dropped at once",
			steps:  []step{{0, "ask", "a", 0}, {0, "renew", "a", 0}, {0, "ask", "b", 0}, {time.Second, "release", "b", 0}},
			holder: "a", claimed: true, expires: ttl},
		{name: "a waiter that stopped asking is dropped",
			steps:  []step{{0, "ask", "a", 0}, {0, "renew", "a", 0}, {0, "ask", "gone", 0}, {2 * time.Second, "renew", "a", 0}, {leaseStaleAfter, "settle", "", 0}},
			holder: "a", claimed: true, expires: 2*time.Second + ttl},
		{name: "an ask again keeps a waiter's place and its most urgent level",
			steps: []step{{0, "ask", "a", 0}, {0, "renew", "a", 0}, {0, "ask", "b", 4}, {time.Second, "ask", "c", 3},
				{2 * time.Second, "ask", "b", 2}, {3 * time.Second, "ask", "b", 5}},
			holder: "a", claimed: true, expires: ttl,
			waiting: []string{"b", "c"}},
		{name: "carried across continue-as-new, a holder and its waiters keep their places",
			start: PATLeaseV2Input{Holder: "a", Claimed: true, Expires: leaseT0.Add(5 * time.Second), HolderTTL: ttl,
				Waiters: []LeaseWaiter{{Holder: "b", Urgency: 3, Arrived: leaseT0.Add(-time.Second), Asked: leaseT0}, {Holder: "c", Urgency: 3, Arrived: leaseT0.Add(-2 * time.Second), Asked: leaseT0}}},
			steps:  []step{{time.Second, "release", "a", 0}},
			holder: "c", expires: leaseStaleAfter,
			waiting: []string{"b"}},
		{name: "the lease carried to a run where its holder already left is not a wedge",
			start: PATLeaseV2Input{Holder: "a", Claimed: true, Expires: leaseT0.Add(10 * time.Second), HolderTTL: ttl,
				Waiters: []LeaseWaiter{{Holder: "b", Urgency: 3, Arrived: leaseT0, Asked: leaseT0}}},
			steps:  []step{{10 * time.Millisecond, "release", "a", 0}},
			holder: "b", expires: leaseStaleAfter},
		{name: "a waiter carried that never asks again is dropped, and the lease is free",
			start: PATLeaseV2Input{Waiters: []LeaseWaiter{{Holder: "b", Urgency: 3, Arrived: leaseT0.Add(-leaseStaleAfter), Asked: leaseT0.Add(-leaseStaleAfter)}}},
			steps: []step{{0, "settle", "", 0}}},
		{name: "a waiter's own TTL is its lease's",
			steps:  []step{{0, "ask", "a", 0}, {0, "renew", "a", 0}},
			start:  PATLeaseV2Input{HolderTTL: 0},
			holder: "a", claimed: true, expires: ttl},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := c.start
			start.TTL = ttl
			b := &leaseBook{start}
			for _, s := range c.steps {
				require.NoError(t, s.apply(b), "%+v", s)
			}
			assert.Equal(t, c.holder, b.Holder)
			if c.holder != "" {
				assert.Equal(t, c.claimed, b.Claimed, "claimed")
				assert.Equal(t, leaseT0.Add(c.expires), b.Expires, "expires")
			}
			last := leaseT0.Add(c.steps[len(c.steps)-1].at)
			var waiting []string
			for _, w := range b.status("", last).Waiters {
				waiting = append(waiting, w.Holder)
			}
			assert.Equal(t, c.waiting, waiting, "waiters in serving order")
			if at := b.next(); !at.IsZero() {
				assert.True(t, at.After(last), "the book's next deadline is in the future after every step")
			}
		})
	}
}

func TestLeaseBookRenewAndStatus(t *testing.T) {
	b := &leaseBook{PATLeaseV2Input{TTL: 10 * time.Second}}
	b.ask(LeaseRequest{Holder: "a"}, leaseT0)
	b.ask(LeaseRequest{Holder: "b", Urgency: 4}, leaseT0)
	b.ask(LeaseRequest{Holder: "c", Urgency: 1}, leaseT0.Add(time.Second))

	_, err := b.renew(LeaseRequest{Holder: "b"}, leaseT0.Add(time.Second))
	require.Error(t, err, "only the holder renews")
	assert.Contains(t, err.Error(), "the lease is not held by b")

	held := b.status("a", leaseT0.Add(time.Second))
	assert.Equal(t, "a", held.Holder)
	assert.True(t, held.Held)
	assert.Equal(t, -1, held.Position, "a holder is not waiting")
	assert.Equal(t, 0, b.status("c", leaseT0.Add(time.Second)).Position, "the revoke is next")
	assert.Equal(t, 1, b.status("b", leaseT0.Add(time.Second)).Position)
	assert.Equal(t, -1, b.status("z", leaseT0.Add(time.Second)).Position, "never asked")
	assert.Equal(t, 2, held.Waiting, "the holder is told how many wait")
	assert.Equal(t, 1, held.Urgency, "and the most urgent level among them: the revoke's")
	assert.Zero(t, b.status("c", leaseT0.Add(time.Second)).Urgency, "only the holder is told")
	assert.Equal(t, 1, b.mostUrgent(leaseT0.Add(time.Second)))
	assert.Equal(t, 3, (&leaseBook{PATLeaseV2Input{Waiters: []LeaseWaiter{{Holder: "list", Urgency: 5, Arrived: leaseT0}}}}).mostUrgent(leaseT0.Add(2*urgency.AgingStep)),
		"a listing that waited two aging steps is served at level 3")
	assert.Zero(t, (&leaseBook{}).mostUrgent(leaseT0), "nobody waits")

	ttl, err := b.renew(LeaseRequest{Holder: "a", TTL: 3 * time.Second}, leaseT0.Add(2*time.Second))
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, ttl, "the holder's own TTL")
	assert.Equal(t, leaseT0.Add(5*time.Second), b.Expires)

	_, err = b.renew(LeaseRequest{Holder: "a"}, leaseT0.Add(5*time.Second))
	require.Error(t, err, "a renew after the lease expired is refused")
	assert.Equal(t, "c", b.Holder, "and the lease went to the next")
}
