package workflows_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"tabflow/workflows"
)

// The equivalence rule (SPEC §3.1), explored: random schedules of grants
// (permanent and time-bound), revokes, reconcile events, redeliveries,
// skewed clocks, forget, hand edits in Tableau, faults and continue-as-new
// run through the real UserAccess workflow (SDK test environment, real
// activities, fake Tableau) and through accessModel, and must agree.
//
// TABFLOW_SCHEDULES=20000 runs a long campaign (TABFLOW_FIRST_SEED=N starts
// it at seed N, to split it across processes); TABFLOW_SEED=N reruns one seed.

const scheduleUser = "ana@example.com"

var (
	scheduleStart = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	stepEvery     = 10 * time.Minute
	modelRoles    = []string{"Viewer", "Explorer", "ExplorerCanPublish", "SiteAdministratorExplorer", "Creator"}
	editRoles     = append(slices.Clone(modelRoles), "SiteAdministratorCreator", "Unlicensed")
)

type faultKind int

const (
	noFault       faultKind = iota
	transient               // a 503 or two on the users endpoints: retried
	lostAnswer              // a role update applied whose answer never came: retried
	refusedWrites           // every role update refused (400) until the step's faults end
	editMidWrite            // an admin edits the role while tabflow's first role update is in flight (503, retried)
)

func (f faultKind) String() string {
	return [...]string{"", "503s", "lost answer", "writes refused", "hand edit during a write"}[f]
}

// scheduleStep is what happens at one moment: a hand edit, then a fault,
// then events sent together (they wait behind the first one's child).
type scheduleStep struct {
	edit string
	// midEdit is the role an admin sets during the step's first role
	// update (fault editMidWrite).
	midEdit string
	fault   faultKind
	events  []sentEvent
	forget  bool
}

type sentEvent struct {
	ev     workflows.AccessEvent
	update bool
}

type schedule struct {
	seed        uint64
	initialRole string
	maxPerRun   int
	steps       []scheduleStep
}

func stepTime(i int) time.Time { return scheduleStart.Add(time.Duration(i+1) * stepEvery) }

// generateSchedule draws one schedule from seed.
func generateSchedule(seed uint64) schedule {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	s := schedule{seed: seed, initialRole: pick(editRoles), maxPerRun: r.IntN(5)}
	var sent []workflows.AccessEvent
	ids := 0
	for i := range 4 + r.IntN(10) {
		var st scheduleStep
		if r.IntN(4) == 0 {
			st.edit = pick(editRoles)
		}
		switch n := r.IntN(20); {
		case n < 3:
			st.fault = transient
		case n < 5:
			st.fault = lostAnswer
		case n < 8:
			st.fault = refusedWrites
		case n < 11:
			st.fault, st.midEdit = editMidWrite, pick(editRoles)
		}
		if r.IntN(20) == 0 {
			st.forget = true
			s.steps = append(s.steps, st)
			continue
		}
		for range 1 + r.IntN(5) {
			var ev workflows.AccessEvent
			switch n := r.IntN(20); {
			case n < 3 && len(sent) > 0:
				ev = sent[r.IntN(len(sent))] // a redelivery
			case n < 5:
				ids++
				ev = workflows.AccessEvent{Op: workflows.OpReconcile, RequestID: fmt.Sprint("plan-", ids), Expected: pick(append(modelRoles, "Unlicensed")), Actual: pick(editRoles)}
			default:
				ids++
				ev = workflows.AccessEvent{Op: workflows.OpGrant, Role: pick(modelRoles), RequestID: fmt.Sprint("r", ids)}
				if r.IntN(3) == 0 {
					ev.Op = workflows.OpRevoke
				} else if r.IntN(2) == 0 {
					// Ends fall between steps, never inside a step's first minute.
					d := time.Duration(r.IntN(3))*stepEvery + 3*time.Minute + time.Duration(r.IntN(300))*time.Second
					ev.Duration = d.String()
				}
				switch n := r.IntN(10); {
				case n < 5:
					ev.At = stepTime(i).Add(-time.Duration(r.IntN(90*60)) * time.Second).Format(time.RFC3339)
				case n == 5:
					ev.At = stepTime(i).Add(6*time.Minute + time.Duration(r.IntN(3600))*time.Second).Format(time.RFC3339)
				}
			}
			sent = append(sent, ev)
			st.events = append(st.events, sentEvent{ev: ev, update: r.IntN(2) == 0})
		}
		s.steps = append(s.steps, st)
	}
	return s
}

func (s schedule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: Tableau shows %s, maxEventsPerRun %d\n", s.seed, s.initialRole, s.maxPerRun)
	for i, st := range s.steps {
		fmt.Fprintf(&b, "  step %d (%s):", i, stepTime(i).Format("15:04"))
		if st.edit != "" {
			fmt.Fprintf(&b, " hand edit → %s;", st.edit)
		}
		if st.fault != noFault {
			fmt.Fprintf(&b, " fault: %s%s;", st.fault, map[bool]string{true: " → " + st.midEdit}[st.midEdit != ""])
		}
		if st.forget {
			b.WriteString(" forget")
		}
		for _, e := range st.events {
			kind := "signal"
			if e.update {
				kind = "update"
			}
			fmt.Fprintf(&b, " [%s %s %s%s %s", kind, e.ev.Op, e.ev.Role, e.ev.Expected, e.ev.RequestID)
			if e.ev.Actual != "" {
				fmt.Fprintf(&b, " actual %s", e.ev.Actual)
			}
			if e.ev.Duration != "" {
				fmt.Fprintf(&b, " for %s", e.ev.Duration)
			}
			if e.ev.At != "" {
				fmt.Fprintf(&b, " at %s", e.ev.At[11:19])
			}
			b.WriteString("]")
		}
		b.WriteString("\n")
	}
	return b.String()
}
