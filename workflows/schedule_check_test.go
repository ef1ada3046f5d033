package workflows_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tabflow/testsuite"
	"tabflow/workflows"
)

// The model's run of a schedule, the comparison, and the test.

// modelRun is the schedule applied one event at a time; skip names the
// events (step, index) the entity answered superseded: they are remembered
// at their turn and not applied, and a superseded grant's end is held by
// the next grant of its role (coalescing folds them) unless a revoke of the
// role comes first. waitingDup names redeliveries the entity answered
// duplicate because the same request was waiting: not applied.
type modelRun struct {
	outcomes  map[[2]int]string
	forgets   map[int]bool
	snapshots map[int]string
	final     string
}

// superseded says which event superseded one (op and request), and whether
// the two grants were folded into one.
type superseded struct {
	by   string
	fold bool
}

type carried struct {
	events    []modelEvent
	end       *time.Time // a folded grant's end
	permanent bool       // a folded grant was until revoked
}

// laterOf2 is the later of two ends, nil only when both are.
func laterOf2(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.After(*a)) {
		return b
	}
	return a
}

func runModel(s schedule, order [][]int, skip map[[2]int]superseded, waitingDup map[[2]int]bool) modelRun {
	m := newAccessModel(s.initialRole)
	// carry holds, per superseding event, the events it superseded (remembered
	// once it is applied) and, for a fold, the end it takes over.
	carry := map[string]carried{}
	out := modelRun{outcomes: map[[2]int]string{}, forgets: map[int]bool{}, snapshots: map[int]string{}}
	set := func(role string) bool { m.tableau = role; return true }
	expireUntil := func(t time.Time) {
		for {
			role, end := m.nextExpiry()
			if end == nil || end.After(t) {
				return
			}
			m.expire(role, set)
		}
	}
	for i, st := range s.steps {
		now := stepTime(i)
		expireUntil(now)
		if m.ended {
			break
		}
		if st.edit != "" {
			m.tableau = st.edit
		}
		write := set
		midEdit, moved := st.midEdit, false
		switch st.fault {
		case refusedWrites:
			write = func(string) bool { return false }
		case editMidWrite:
			// The first write finds the role edited by hand: nothing is
			// written, and the event is decided again on the edited role
			// (unless the admin set the very role the write sets).
			write = func(role string) bool {
				if midEdit == "" {
					return set(role)
				}
				m.tableau, midEdit = midEdit, ""
				moved = m.tableau != role
				return !moved
			}
		}
		if st.forget {
			out.forgets[i] = m.forget()
		}
		for _, j := range order[i] {
			e := st.events[j]
			me := toModelEvent(e.ev, now)
			if waitingDup[[2]int{i, j}] {
				out.outcomes[[2]int{i, j}] = "duplicate"
				continue
			}
			c := carry[me.key()]
			delete(carry, me.key())
			if c.end != nil || c.permanent {
				me.expiresAt = laterOf(me.expiresAt, c.end)
				if c.permanent {
					me.expiresAt = nil
				}
			}
			if by, ok := skip[[2]int{i, j}]; ok {
				out.outcomes[[2]int{i, j}] = "superseded"
				next := carry[by.by]
				next.events = append(append(next.events, c.events...), me)
				if by.fold {
					next.permanent = next.permanent || me.expiresAt == nil
					next.end = laterOf2(next.end, me.expiresAt)
				}
				carry[by.by] = next
				continue
			}
			out.outcomes[[2]int{i, j}] = m.apply(me, now, write)
			if moved {
				moved = false
				out.outcomes[[2]int{i, j}] = m.apply(me, now, write)
			}
			if slices.Contains([]string{"applied", "unchanged", "expired"}, out.outcomes[[2]int{i, j}]) {
				for _, f := range c.events {
					m.remember(f) // superseded events are remembered with the one that decided
				}
			}
		}
		expireUntil(now.Add(time.Minute))
		if !m.ended {
			out.snapshots[i] = m.summary()
		}
	}
	expireUntil(stepTime(len(s.steps) + 4*6))
	out.final = m.summary()
	return out
}

func laterOf(a, b *time.Time) *time.Time {
	if a == nil || b == nil {
		return nil
	}
	if a.After(*b) {
		return a
	}
	return b
}

func toModelEvent(ev workflows.AccessEvent, arrived time.Time) modelEvent {
	me := modelEvent{op: string(ev.Op), role: ev.Role, requestID: ev.RequestID, expected: ev.Expected, actual: ev.Actual}
	if ev.At != "" {
		at, _ := time.Parse(time.RFC3339, ev.At)
		me.at = &at
		me.skewed = at.After(arrived.Add(5 * time.Minute))
	}
	if ev.Duration != "" {
		d, _ := time.ParseDuration(ev.Duration)
		end := arrived.Add(d)
		me.expiresAt = &end
	}
	return me
}

// checkSchedule runs s through the entity and the model and says where
// they disagree.
func checkSchedule(t *testing.T, fake *testsuite.Tableau, s schedule) error {
	obs, err := runSchedule(t, fake, s)
	if err != nil {
		return err
	}
	// Which recorded event is which: a step's records are those that arrived
	// in its time (an update refused while the run continued as new arrives
	// again at the next run), matched by content; the model applies them in
	// the order they arrived (Seq).
	outcome := map[[2]int]string{}
	skip, waitingDup := map[[2]int]superseded{}, map[[2]int]bool{}
	order := make([][]int, len(s.steps))
	for i, st := range s.steps {
		if st.forget {
			if _, ok := obs.forgets[i]; !ok && !forgotten(obs, i) {
				return fmt.Errorf("step %d: the forget update was never answered", i)
			}
		}
		matched := make([]bool, len(st.events))
		for _, rec := range obs.records {
			if rec.ReceivedAt.Before(stepTime(i)) || !rec.ReceivedAt.Before(stepTime(i).Add(stepEvery)) {
				continue
			}
			// An update's answer names its record (by Seq); other records go,
			// by content, to events that are not answered updates.
			j := -1
			for o, e := range st.events {
				a, answered := obs.answers[[2]int{i, o}]
				switch {
				case answered && a.Seq == rec.Seq:
					j = o
				case j < 0 && !answered && !matched[o] && !obs.refused[[2]int{i, o}] && e.ev.Op == rec.Op && e.ev.RequestID == rec.RequestID:
					j = o
				}
			}
			if j < 0 {
				return fmt.Errorf("step %d: record %d (%s %s) matches no event sent then; records: %s", i, rec.Seq, rec.Op, rec.RequestID, recordList(obs.records))
			}
			matched[j] = true
			k := [2]int{i, j}
			if a, ok := obs.answers[k]; ok && a.Outcome != rec.Outcome {
				return fmt.Errorf("step %d event %d: the update answered %s, the history says %s", i, j, a.Outcome, rec.Outcome)
			}
			outcome[k] = string(rec.Outcome)
			switch {
			case rec.Outcome == workflows.OutcomeDuplicate && strings.Contains(rec.Message, "already waiting"):
				if !slices.ContainsFunc(order[i], func(o int) bool { return st.events[o].ev.Op == rec.Op && st.events[o].ev.RequestID == rec.RequestID }) {
					return fmt.Errorf("step %d event %d: answered duplicate of a waiting request that had not arrived", i, j)
				}
				waitingDup[k] = true
			case rec.Outcome == workflows.OutcomeSuperseded:
				by := regexp.MustCompile(`superseded by (\w+) \w+ \(request ([^)]+)\)`).FindStringSubmatch(rec.Message)
				if by == nil {
					return fmt.Errorf("step %d event %d: superseded by what? %q", i, j, rec.Message)
				}
				skip[k] = superseded{by: by[1] + "\x00" + by[2], fold: strings.Contains(rec.Message, "later end of the two")}
			}
			order[i] = append(order[i], j)
		}
		for j, e := range st.events {
			k := [2]int{i, j}
			switch {
			case matched[j]:
			case obs.refused[k]:
				outcome[k] = "rejected"
				order[i] = append(order[i], j)
			case forgotten(obs, i):
				// sent after forget, to an entity that has ended
			default:
				return fmt.Errorf("step %d event %d (%s %s %s): no record; records: %s", i, j, e.ev.Op, e.ev.Role, e.ev.RequestID, recordList(obs.records))
			}
		}
	}
	for k := range skip {
		if !laterForSameRole(s, order, k[0], k[1]) {
			e := s.steps[k[0]].events[k[1]].ev
			return fmt.Errorf("step %d event %d (%s %s %s) superseded with no later event for its role", k[0], k[1], e.Op, e.Role, e.RequestID)
		}
	}
	all, applied := runModel(s, order, nil, nil), runModel(s, order, skip, waitingDup)
	for k, want := range applied.outcomes {
		if got, ok := outcome[k]; ok && got != want {
			return fmt.Errorf("step %d event %d: the entity answered %s; one at a time it is %s", k[0], k[1], got, want)
		}
	}
	for i, want := range applied.forgets {
		if got, ok := obs.forgets[i]; ok && got != want {
			return fmt.Errorf("step %d: forget accepted %v; one at a time %v", i, got, want)
		}
	}
	for i := range s.steps {
		got, seen := obs.snapshots[i]
		want, live := applied.snapshots[i]
		if seen && live && got != want {
			return fmt.Errorf("after step %d: the entity has %s; one at a time %s", i, got, want)
		}
		// An edit during "the first write" lands elsewhere once superseded
		// events are applied too: from there on, the two runs differ by design.
		comparable := !slices.ContainsFunc(s.steps[:i+1], func(st scheduleStep) bool { return st.fault == editMidWrite })
		if live && comparable && all.snapshots[i] != want {
			return fmt.Errorf("after step %d: skipping the superseded events gives %s; applying them gives %s", i, want, all.snapshots[i])
		}
	}
	comparable := !slices.ContainsFunc(s.steps, func(st scheduleStep) bool { return st.fault == editMidWrite })
	if obs.final != applied.final || (comparable && applied.final != all.final) {
		return fmt.Errorf("at the end: the entity has %s; one at a time %s (with the superseded events: %s)", obs.final, applied.final, all.final)
	}
	return nil
}

func recordList(recs []workflows.AccessRecord) string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%d %s %s %s", r.Seq, r.Op, r.RequestID, r.Outcome))
	}
	return strings.Join(out, "; ")
}

// forgotten says a forget was accepted at or before step upTo.
func forgotten(obs observed, upTo int) bool {
	for i, accepted := range obs.forgets {
		if accepted && i <= upTo {
			return true
		}
	}
	return false
}

// laterForSameRole says an event of the same role arrived after event
// (step, index).
func laterForSameRole(s schedule, order [][]int, step, index int) bool {
	ev := s.steps[step].events[index].ev
	for i := step; i < len(s.steps); i++ {
		arrived := order[i]
		if i == step {
			arrived = arrived[slices.Index(arrived, index)+1:]
		}
		for _, j := range arrived {
			if e := s.steps[i].events[j].ev; e.Role == ev.Role && e.Op != workflows.OpReconcile {
				return true
			}
		}
	}
	return false
}

// shrink removes events and steps from a failing schedule while it still fails.
func shrink(t *testing.T, fake *testsuite.Tableau, s schedule) schedule {
	for changed := true; changed; {
		changed = false
		for i := len(s.steps) - 1; i >= 0; i-- {
			for j := len(s.steps[i].events) - 1; j >= 0; j-- {
				c := s.clone()
				c.steps[i].events = slices.Delete(c.steps[i].events, j, j+1)
				if checkSchedule(t, fake, c) != nil {
					s, changed = c, true
				}
			}
			c := s.clone()
			c.steps = slices.Delete(c.steps, i, i+1)
			if checkSchedule(t, fake, c) != nil {
				s, changed = c, true
			}
		}
	}
	return s
}

func (s schedule) clone() schedule {
	c := s
	c.steps = slices.Clone(s.steps)
	for i := range c.steps {
		c.steps[i].events = slices.Clone(s.steps[i].events)
	}
	return c
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// TestUserAccessRandomSchedules checks the equivalence rule over seeded
// random schedules: 500 in CI (about a minute), TABFLOW_SCHEDULES for a
// campaign, TABFLOW_SEED to rerun one.
func TestUserAccessRandomSchedules(t *testing.T) {
	fake := testsuite.StartTableau(t)
	seeds := []uint64{}
	if one := envInt("TABFLOW_SEED", -1); one >= 0 {
		seeds = append(seeds, uint64(one))
	} else {
		first := envInt("TABFLOW_FIRST_SEED", 1) // to split a campaign across processes
		for i := range envInt("TABFLOW_SCHEDULES", 500) {
			seeds = append(seeds, uint64(first+i))
		}
	}
	start := time.Now()
	for _, seed := range seeds {
		s := generateSchedule(seed)
		if err := checkSchedule(t, fake, s); err != nil {
			small := shrink(t, fake, s)
			t.Fatalf("seed %d breaks the equivalence rule (rerun: TABFLOW_SEED=%d go test ./workflows -run RandomSchedules)\n%v\nsmallest failing schedule: %v\n%v",
				seed, seed, err, checkSchedule(t, fake, small), small)
		}
	}
	t.Logf("%d schedules in %s", len(seeds), time.Since(start).Round(time.Millisecond))
}
