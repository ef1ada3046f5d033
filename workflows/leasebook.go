package workflows

import (
	"fmt"
	"slices"
	"time"

	"tabflow/internal/urgency"
)

// The rules of a PAT's fleet lease (PATLeaseV2), in plain Go: who holds it,
// until when, who waits and who is next. The workflow only feeds the book
// messages and timers; every invariant of SPEC §2 is a property of these
// methods.
//
// A waiter is alive while it keeps asking: it asks again every LeaseAskEvery
// and is dropped once its last ask is leaseStaleAfter old, so a waiter that
// stopped asking (its worker died, its activity gave up) never blocks the
// others. The lease is offered to the most urgent fresh waiter (then the
// earliest); the offer lasts until the waiter's freshness ends, and the
// waiter claims it with its first renew, which starts the TTL.
const (
	// LeaseTTL is how long a lease lasts unrenewed: a holder that dies
	// frees the PAT within it.
	LeaseTTL = 10 * time.Second
	// LeaseRenewEvery is how often a holder renews.
	LeaseRenewEvery = 2 * time.Second
	// LeaseMargin is how long before its lease could expire unrenewed a
	// holder gives its session up (abandons its call and signs out).
	LeaseMargin = 4 * time.Second
	// LeaseAskEvery is how often a waiting holder asks again.
	LeaseAskEvery = 2 * time.Second
	// leaseStaleAfter is how old a waiter's last ask may be before it is
	// dropped: three asks missed, still well within a TTL.
	leaseStaleAfter = 3 * LeaseAskEvery
	// LeaseUrgencyDefault is the urgency of a request that names none: a
	// direct Provision's (SPEC §3.3).
	LeaseUrgencyDefault = urgency.Direct
)

// LeaseWaiter is a holder waiting for the lease.
type LeaseWaiter struct {
	Holder  string        `json:"holder"`
	Urgency int           `json:"urgency"`       // 1 (a revoke) … 5 (a listing)
	Arrived time.Time     `json:"arrived"`       // its first ask: the order of arrival
	Asked   time.Time     `json:"asked"`         // its last ask: alive while recent
	TTL     time.Duration `json:"ttl,omitempty"` // the lease it asked for (0: the book's)
}

// PATLeaseV2Input starts or continues a lease workflow: the whole book, so
// continue-as-new at any point keeps the holder, its deadline and every
// waiter's place, and nobody has to ask again.
type PATLeaseV2Input struct {
	TTL       time.Duration `json:"ttl"`
	Holder    string        `json:"holder,omitempty"`
	HolderTTL time.Duration `json:"holderTtl,omitempty"`
	// Claimed says the holder renewed since it was granted; an unclaimed
	// lease is an offer that ends with the holder's freshness.
	Claimed bool          `json:"claimed,omitempty"`
	Expires time.Time     `json:"expires,omitzero"`
	Waiters []LeaseWaiter `json:"waiters,omitempty"`
}

// LeaseStatus answers the status query: what one holder needs to know.
type LeaseStatus struct {
	Holder string `json:"holder,omitempty"` // who holds the lease now
	// Held: the lease is the asking holder's (claim it with renew).
	Held bool `json:"held,omitempty"`
	// Position is the asking holder's place among the waiters (0: next),
	// -1 when it is not waiting (never asked, dropped, or holding).
	Position int           `json:"position"`
	Waiters  []LeaseWaiter `json:"waiters,omitempty"` // in serving order, to a status asked with no holder
	// Waiting and Urgency tell the holder how many others wait and the
	// most urgent level among them (aged as they are served; 0: nobody),
	// so it yields at once to a more urgent session than its own next.
	Waiting int `json:"waiting,omitempty"`
	Urgency int `json:"urgency,omitempty"`
}

// leaseBook is the lease's state and rules.
type leaseBook struct{ PATLeaseV2Input }

func (b *leaseBook) ttlOf(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return b.TTL
}

// ask records a waiter's ask (a first one, or one that keeps it alive).
func (b *leaseBook) ask(r LeaseRequest, now time.Time) {
	if r.Holder == b.Holder {
		if !b.Claimed { // an offer not yet seen: it lasts while they ask
			b.Expires = later(b.Expires, now.Add(min(leaseStaleAfter, b.HolderTTL)))
		}
		return
	}
	level := urgency.Of(r.Urgency)
	if i := b.waiting(r.Holder); i >= 0 {
		w := &b.Waiters[i]
		w.Asked, w.TTL, w.Urgency = now, r.TTL, min(w.Urgency, level)
	} else {
		b.Waiters = append(b.Waiters, LeaseWaiter{Holder: r.Holder, Urgency: level, Arrived: now, Asked: now, TTL: r.TTL})
	}
	b.settle(now)
}

// renew extends the holder's lease by its TTL from now (claiming an offer);
// anyone else is told the lease is not theirs.
func (b *leaseBook) renew(r LeaseRequest, now time.Time) (time.Duration, error) {
	b.settle(now)
	if r.Holder != b.Holder {
		return 0, fmt.Errorf("the lease is not held by %s (it expired or was never granted)", r.Holder)
	}
	if r.TTL > 0 {
		b.HolderTTL = r.TTL
	}
	b.Claimed, b.Expires = true, now.Add(b.HolderTTL)
	return b.HolderTTL, nil
}

// release ends a holder's lease, or withdraws a waiter.
func (b *leaseBook) release(holder string, now time.Time) {
	if i := b.waiting(holder); i >= 0 {
		b.Waiters = slices.Delete(b.Waiters, i, i+1)
	}
	if holder == b.Holder {
		b.Holder = ""
	}
	b.settle(now)
}

// settle applies the clock: an unrenewed lease ends, stale waiters are
// dropped, and a free lease is offered to the next waiter. Afterwards the
// lease is free only when nobody waits.
func (b *leaseBook) settle(now time.Time) {
	for {
		if b.Holder != "" && !now.Before(b.Expires) {
			b.Holder = ""
		}
		b.Waiters = slices.DeleteFunc(b.Waiters, func(w LeaseWaiter) bool { return !now.Before(w.Asked.Add(leaseStaleAfter)) })
		if b.Holder != "" || len(b.Waiters) == 0 {
			return
		}
		b.sort(now)
		w := b.Waiters[0]
		b.Waiters = b.Waiters[1:]
		b.Holder, b.HolderTTL, b.Claimed = w.Holder, b.ttlOf(w.TTL), false
		b.Expires = w.Asked.Add(min(leaseStaleAfter, b.HolderTTL)) // may already be over: then the next
	}
}

// next is when settle next has something to do (zero: nothing will happen
// until a message arrives).
func (b *leaseBook) next() time.Time {
	var at time.Time
	if b.Holder != "" {
		at = b.Expires
	}
	for _, w := range b.Waiters {
		at = earlier(at, w.Asked.Add(leaseStaleAfter))
	}
	return at
}

// sort orders the waiters as they will be served: by urgency, raised one
// level per urgency.AgingStep waited, then by arrival.
func (b *leaseBook) sort(now time.Time) {
	slices.SortStableFunc(b.Waiters, func(x, y LeaseWaiter) int {
		if d := urgency.Effective(x.Urgency, now.Sub(x.Arrived)) - urgency.Effective(y.Urgency, now.Sub(y.Arrived)); d != 0 {
			return d
		}
		return x.Arrived.Compare(y.Arrived)
	})
}

// status is what holder needs to know, as of now. Asked with no holder (an
// operator, a test) it lists the waiters in the order they will be served;
// a waiter polling gets a small answer.
func (b *leaseBook) status(holder string, now time.Time) LeaseStatus {
	queue := leaseBook{PATLeaseV2Input{Waiters: slices.Clone(b.Waiters)}}
	queue.sort(now)
	st := LeaseStatus{Holder: b.Holder, Held: holder != "" && holder == b.Holder, Position: queue.waiting(holder)}
	if holder == "" {
		st.Waiters = queue.Waiters
	}
	if st.Held {
		st.Waiting, st.Urgency = len(b.Waiters), b.mostUrgent(now)
	}
	return st
}

// mostUrgent is the level the first waiter is served at now, 0 if none.
func (b *leaseBook) mostUrgent(now time.Time) int {
	most := 0
	for _, w := range b.Waiters {
		if level := urgency.Effective(w.Urgency, now.Sub(w.Arrived)); most == 0 || level < most {
			most = level
		}
	}
	return most
}

func (b *leaseBook) waiting(holder string) int {
	return slices.IndexFunc(b.Waiters, func(w LeaseWaiter) bool { return w.Holder == holder })
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// earlier is the earlier of two times, a zero a meaning none yet.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}
