package workflows

import "time"

// The entity's coalescing rule (SPEC §3.1), in plain Go.

// coalesce says which waiting event ev makes moot (its index in queue, -1
// for none), and whether ev takes over that event's end. queue is every
// event waiting, in arrival order (each `at` counting what was folded into
// it); ahead is the latest `at` for ev's role before them (applied, or in
// flight). Only events of ev's role whose times are in order coalesce (one
// out of order may turn stale at its turn, depending on which event before
// it succeeds), and only where applying ev alone gives what applying them
// in turn gives (the equivalence rule, SPEC §3.1):
//   - grant, grant: one grant with the later end (as planGrant would), when
//     only grants wait between them: grants only ever raise Tableau to the
//     highest role held, in any order;
//   - revoke, revoke: the second finds nothing left to revoke, when only
//     revokes wait between them;
//   - grant, revoke, grant and revoke, grant, revoke, the three waiting
//     last and next to each other: the middle one undoes the first.
//
// A grant waiting between others can raise Tableau to a role that a revoke
// of another role then lowers (seed 6323 of the schedule campaign): such
// events are applied in turn, each one.
func coalesce(ahead *time.Time, queue []parsedEvent, ev parsedEvent) (moot int, fold bool) {
	if ev.op == OpReconcile {
		return -1, false
	}
	var same []int
	for i, q := range queue {
		if q.op != OpReconcile && q.role == ev.role {
			same = append(same, i)
		}
	}
	ordered := []parsedEvent{{at: ahead}}
	for _, i := range same {
		ordered = append(ordered, queue[i])
	}
	if len(same) == 0 || !inOrder(append(ordered, ev)) {
		return -1, false
	}
	last := same[len(same)-1]
	switch {
	case queue[last].op == ev.op && allOp(queue[last+1:], ev.op):
		return last, ev.op == OpGrant
	case len(same) > 1 && queue[same[len(same)-2]].op == ev.op && same[len(same)-2] == len(queue)-2 && last == len(queue)-1:
		return same[len(same)-2], false
	}
	return -1, false
}

// allOp says every event is op's.
func allOp(evs []parsedEvent, op Op) bool {
	for _, e := range evs {
		if e.op != op {
			return false
		}
	}
	return true
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
