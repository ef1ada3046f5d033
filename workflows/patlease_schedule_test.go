package workflows_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"tabflow/workflows"
)

// leaseChecker checks SPEC §2's lease invariants at every step of a
// simulation (patlease_sim_test.go) and over its whole run:
//
//	(a) at most one process uses the PAT at a time;
//	(b) every workflow task yields: the test environment fails a run whose
//	    task does not (TMPRL1101), and run reports it;
//	(c) a lease offered to, or held by, a process that is not alive and
//	    asking passes on within one TTL (so a live waiter is granted within
//	    one TTL of the holder leaving), and the lease is never free while
//	    anyone waits;
//	(d) a holder that stopped asking (crashed, gave up, released) is gone
//	    from the lease within one TTL, and never blocks the others;
//	(e) in-flight updates stay at most 8 (only holders renew; nobody waits
//	    inside the workflow).
type leaseChecker struct {
	occupant      string
	unservedSince time.Time
	observations  int
}

// slack is the simulation's resolution: a timer and a tick at one instant
// run in either order.
const slack = 2 * simStep

func (c *leaseChecker) observe(m *leaseSim, now time.Time) {
	st, ok := m.status("")
	if !ok {
		return
	}
	c.observations++
	var using []string
	for _, p := range m.procs {
		if p.state == holding && now.Before(p.deadline) {
			using = append(using, p.holder)
		}
	}
	if len(using) > 1 {
		m.fail("(a) %d processes use the PAT at once: %v", len(using), using)
	}
	if st.Holder == "" && len(st.Waiters) > 0 {
		m.fail("(c) the lease is free while %d wait", len(st.Waiters))
	}
	if st.Holder != c.occupant {
		c.occupant, c.unservedSince = st.Holder, time.Time{}
	}
	switch {
	case st.Holder == "" || m.live(st.Holder):
		c.unservedSince = time.Time{}
	case c.unservedSince.IsZero():
		c.unservedSince = now
	case now.Sub(later(c.unservedSince, m.delivered[st.Holder])) > workflows.LeaseTTL+slack:
		m.fail("(c) the lease stays with %s, which stopped asking %s ago", st.Holder, now.Sub(c.unservedSince))
	}
	for holder := range m.stopped {
		at := m.quietSince(holder)
		if now.Sub(at) <= workflows.LeaseTTL+slack {
			continue
		}
		if st.Holder == holder || slices.ContainsFunc(st.Waiters, func(w workflows.LeaseWaiter) bool { return w.Holder == holder }) {
			m.fail("(d) %s stopped asking %s ago and is still in the lease", holder, now.Sub(at))
		}
	}
	if m.maxIn > 8 {
		m.fail("(e) %d updates in flight at once", m.maxIn)
	}
}

// final checks the intervals of use never overlapped, to the nanosecond.
func (c *leaseChecker) final(m *leaseSim) error {
	for _, p := range m.procs {
		end := m.env.Now() // still holding at the end
		if p.deadline.Before(end) {
			end = p.deadline
		}
		m.endUse(p, end)
		p.state = idle
	}
	slices.SortFunc(m.used, func(x, y interval) int { return x.start.Compare(y.start) })
	for i := 1; i < len(m.used); i++ {
		if prev, cur := m.used[i-1], m.used[i]; cur.start.Before(prev.end) {
			return fmt.Errorf("(a) %s used the PAT from %s while %s used it until %s", cur.holder, cur.start.Format("15:04:05.000"), prev.holder, prev.end.Format("15:04:05.000"))
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// live says a holder is a process alive and still after the lease.
func (m *leaseSim) live(holder string) bool {
	for _, p := range m.procs {
		if p.holder == holder {
			return p.state == waiting || p.state == claiming || p.state == holding
		}
	}
	return false
}

// leaseScheduleRegressions are seeds that once broke an invariant.
var leaseScheduleRegressions = []uint64{}

// TestPATLeaseRandomSchedules drives PATLeaseV2 through seeded random
// schedules of 1 to 30 processes: 300 in CI, TABFLOW_LEASE_SCHEDULES for a
// campaign (TABFLOW_FIRST_SEED to split one), TABFLOW_LEASE_SEED to rerun one.
func TestPATLeaseRandomSchedules(t *testing.T) {
	seeds := slices.Clone(leaseScheduleRegressions)
	if one := envInt("TABFLOW_LEASE_SEED", -1); one >= 0 {
		seeds = []uint64{uint64(one)}
	} else {
		first := envInt("TABFLOW_FIRST_SEED", 1)
		for i := range envInt("TABFLOW_LEASE_SCHEDULES", 300) {
			seeds = append(seeds, uint64(first+i))
		}
	}
	start := time.Now()
	var grants, runs, updates, maxIn int
	for _, seed := range seeds {
		m := newLeaseSim(drawLeaseSchedule(seed))
		if err := m.run(); err != nil {
			t.Fatalf("seed %d breaks the lease (rerun: TABFLOW_LEASE_SEED=%d go test ./workflows -run PATLeaseRandomSchedules)\n%+v\n%v", seed, seed, m.s, err)
		}
		grants, runs, updates, maxIn = grants+len(m.used), runs+m.runs, updates+m.updates, max(maxIn, m.maxIn)
	}
	t.Logf("%d schedules in %s: %d leases used, %d workflow runs, %d renews, at most %d in flight", len(seeds), time.Since(start).Round(time.Millisecond), grants, runs, updates, maxIn)
}
