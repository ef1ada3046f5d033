package workflows

import "time"

// The entity's coalescing rule (SPEC §3.1), in plain Go.

// coalesce says which event waiting for ev's role ev makes moot (its index
// in waiting, -1 for none), and whether ev takes over that event's end.
// waiting are the grants and revokes waiting for the role, in arrival order;
// ahead is the latest `at` for the role before them (applied, or in flight).
// Only events in order of their `at` coalesce (one out of order may turn
// stale at its turn, depending on which event before it succeeds), and
// only where applying ev alone gives what applying both in order gives
// (the equivalence rule, SPEC §3.1):
//   - grant, grant: one grant with the later end (folded, as planGrant would);
//   - revoke, revoke: the second finds nothing left to revoke;
//   - grant, revoke, grant: the revoke undoes the first grant;
//   - revoke, grant, revoke: the second revoke undoes the grant, and the
//     first one's removal happens in it.
//
// So at most two events per role wait, whatever is sent, while their times
// are in order.
func coalesce(ahead *time.Time, waiting []parsedEvent, ev parsedEvent) (moot int, fold bool) {
	if len(waiting) == 0 || !inOrder(append(append([]parsedEvent{{at: ahead}}, waiting...), ev)) {
		return -1, false
	}
	last := len(waiting) - 1
	switch {
	case waiting[last].op == ev.op:
		return last, ev.op == OpGrant
	case last > 0 && waiting[last-1].op == ev.op:
		return last - 1, false
	}
	return -1, false
}

// inOrder says no event's `at` is before an earlier one's.
func inOrder(evs []parsedEvent) bool {
	var latest *time.Time
	for _, ev := range evs {
		if ev.at == nil {
			continue
		}
		if latest != nil && ev.at.Before(*latest) {
			return false
		}
		latest = ev.at
	}
	return true
}

// laterEnd is the end of a grant held for both: nil (until revoked) if
// either is.
func laterEnd(a, b *time.Time) *time.Time {
	if a == nil || b == nil {
		return nil
	}
	if a.After(*b) {
		return a
	}
	return b
}
