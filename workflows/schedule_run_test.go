package workflows_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdktestsuite "go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// Running a schedule through the real entity, as Temporal would deliver it.

// observed is what the real entity did: each accepted event's record in
// arrival order, updates refused by the validator, forget answers, and at
// each step's end the grants query and Tableau's role.
type observed struct {
	records   []workflows.AccessRecord // non-expiry records, by Seq
	refused   map[[2]int]bool          // (step, event) updates the validator refused
	answers   map[[2]int]workflows.AccessRecord
	forgets   map[int]bool // step → accepted
	snapshots map[int]string
	final     string
}

// runSchedule drives the real entity through s, continuing as new as the
// entity asks, and returns what it observed.
func runSchedule(t *testing.T, fake *testsuite.Tableau, s schedule) (obs observed, err error) {
	fake.ClearFaults()
	fake.SetRole(faketableau.SandboxSite, scheduleUser, s.initialRole)
	obs = observed{refused: map[[2]int]bool{}, answers: map[[2]int]workflows.AccessRecord{}, forgets: map[int]bool{}, snapshots: map[int]string{}}

	type action struct {
		at    time.Time
		fired bool
		do    func(env *sdktestsuite.TestWorkflowEnvironment)
		done  func() bool // nil: done once fired
	}
	var actions []*action
	var resume func(env *sdktestsuite.TestWorkflowEnvironment, step int)
	var failure error
	fail := func(format string, args ...any) {
		if failure == nil {
			failure = fmt.Errorf(format, args...)
		}
	}
	var removeFault func()
	ended := false
	stepActions := map[int]*action{}
	deliveries := map[int][]int{}
	runs, sends := 0, 0
	// resume sends a step's next event, unless the run has closed.
	resume = func(env *sdktestsuite.TestWorkflowEnvironment, step int) {
		a := stepActions[step]
		if !env.IsWorkflowCompleted() && !a.fired {
			a.do(env)
			a.fired = a.done()
		}
	}
	for i, st := range s.steps {
		begun := false
		delivery := make([]int, len(st.events)) // unsent, sent, arrived, answered, refused
		deliveries[i] = delivery
		actions = append(actions, &action{at: stepTime(i), do: func(env *sdktestsuite.TestWorkflowEnvironment) {
			if !begun {
				begun = true
				if st.edit != "" {
					fake.SetRole(faketableau.SandboxSite, scheduleUser, st.edit)
				}
				switch st.fault {
				case transient:
					removeFault = fake.Inject(faketableau.Fault{PathContains: "/users", Times: 2, Status: 503, Body: "busy"})
				case lostAnswer:
					removeFault = fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, LoseAnswer: true})
				case refusedWrites:
					removeFault = fake.Inject(faketableau.Fault{Method: "PUT", Status: 400,
						Body: `{"error":{"summary":"Bad Request","detail":"refused by the schedule","code":"400000"}}`})
				case editMidWrite:
					removeFault = fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, Status: 503, Body: "busy",
						Meanwhile: func() { fake.SetRole(faketableau.SandboxSite, scheduleUser, st.midEdit) }})
				}
				if st.forget {
					env.UpdateWorkflow(workflows.ForgetUpdate, fmt.Sprint("forget-", i), &sdktestsuite.TestUpdateCallback{
						OnAccept: func() { obs.forgets[i] = true; ended = true }, OnReject: func(error) { obs.forgets[i] = false }, OnComplete: func(any, error) {},
					})
				}
			}
			// One event per callback: each runs a workflow task of its own,
			// after which the run may have closed (continued as new); the
			// rest then go to the next run, as Temporal sends them.
			j := slices.Index(delivery, unsent)
			if j < 0 {
				return
			}
			e := st.events[j]
			delivery[j] = sent
			if slices.Contains(delivery, unsent) { // posted behind this event's workflow task
				defer env.RegisterDelayedCallback(func() { resume(env, i) }, 0)
			}
			if !e.update {
				env.SignalWorkflow(workflows.AccessSignal, e.ev)
				return
			}
			sends++ // a fresh update ID each time: the environment answers a repeated one with the first's result
			env.UpdateWorkflow(workflows.AccessUpdate, fmt.Sprint("u-", sends), &sdktestsuite.TestUpdateCallback{
				OnAccept: func() { delivery[j] = arrived },
				OnReject: func(err error) {
					if strings.Contains(err.Error(), workflows.EntityContinuingAsNew) {
						delivery[j] = unsent // sent again to the next run, as SendAccess does
						return
					}
					delivery[j] = refused
					obs.refused[[2]int{i, j}] = true
				},
				OnComplete: func(v any, err error) {
					if err != nil {
						fail("step %d event %d: update failed: %v", i, j, err)
						return
					}
					obs.answers[[2]int{i, j}] = v.(workflows.AccessRecord)
					delivery[j] = answered
				},
			}, e.ev)
		}, done: func() bool { return !slices.Contains(delivery, unsent) }})
		stepActions[i] = actions[len(actions)-1]
		actions = append(actions, &action{at: stepTime(i).Add(30 * time.Second), do: func(*sdktestsuite.TestWorkflowEnvironment) {
			if removeFault != nil {
				removeFault()
				removeFault = nil
			}
		}})
		actions = append(actions, &action{at: stepTime(i).Add(time.Minute), do: func(env *sdktestsuite.TestWorkflowEnvironment) {
			if ended {
				return
			}
			var grants []workflows.Grant
			v, err := env.QueryWorkflow(workflows.GrantsQuery)
			if err == nil {
				err = v.Get(&grants)
			}
			if err != nil {
				fail("step %d: grants query: %v", i, err)
				return
			}
			obs.snapshots[i] = realSummary(grants, fake.Role(faketableau.SandboxSite, scheduleUser))
		}})
	}
	// At the end, every time-bound grant has run out; forget ends the entity.
	actions = append(actions, &action{at: stepTime(len(s.steps) + 4*6), do: func(env *sdktestsuite.TestWorkflowEnvironment) {
		if ended {
			return
		}
		env.UpdateWorkflow(workflows.ForgetUpdate, "forget-end", &sdktestsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { fail("the final forget was refused: %v", err) }, OnComplete: func(any, error) {},
		})
	}})

	in := workflows.UserAccessInput{User: scheduleUser, MaxEventsPerRun: s.maxPerRun}
	now := scheduleStart
	for ; ; runs++ {
		if runs > 200 {
			return obs, errors.New("over 200 runs: the entity keeps continuing as new")
		}
		env := envFor(activitiesFor(t, fake))
		env.SetStartTime(now)
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.UserAccessWorkflowID(testQueue, scheduleUser)})
		for _, a := range actions {
			if !a.fired {
				env.RegisterDelayedCallback(func() {
					if !env.IsWorkflowCompleted() {
						a.do(env)
						a.fired = a.done == nil || a.done()
					}
				}, max(a.at.Sub(now), 0))
			}
		}
		env.ExecuteWorkflow(workflows.UserAccessWorkflow, in)
		if failure != nil {
			return obs, failure
		}
		var can *workflow.ContinueAsNewError
		if werr := env.GetWorkflowError(); errors.As(werr, &can) {
			in = workflows.UserAccessInput{}
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				return obs, err
			}
			for i, d := range deliveries {
				if redeliver(s.steps[i], d, arrivedIn(in.State, stepTime(i))) {
					stepActions[i].fired = false
				}
			}
			now = env.Now()
			continue
		} else if werr != nil {
			return obs, fmt.Errorf("the entity failed: %w", werr)
		}
		var res workflows.UserAccessResult
		if err := env.GetWorkflowResult(&res); err != nil {
			return obs, err
		}
		for _, rec := range res.History {
			if rec.RequestID != "" {
				obs.records = append(obs.records, rec)
			}
		}
		slices.SortFunc(obs.records, func(a, b workflows.AccessRecord) int { return a.Seq - b.Seq })
		obs.final = realSummary(res.Grants, fake.Role(faketableau.SandboxSite, scheduleUser))
		return obs, nil
	}
}

// Deliveries of a schedule's events.
const (
	unsent = iota
	sent
	arrived  // an update accepted
	answered // an update answered
	refused  // by the update's validator: never in the entity
)

// arrivedIn counts, by op and request, the events of the step at t that the
// entity holds: recorded or pending.
func arrivedIn(st *workflows.UserAccessState, t time.Time) map[string]int {
	in := func(at time.Time) bool { return !at.Before(t) && at.Before(t.Add(stepEvery)) }
	n := map[string]int{}
	for _, r := range st.History {
		if r.RequestID != "" && in(r.ReceivedAt) {
			n[string(r.Op)+" "+r.RequestID]++
		}
	}
	for _, p := range st.Pending {
		if in(p.ReceivedAt) {
			n[string(p.Event.Op)+" "+p.Event.RequestID]++
		}
	}
	return n
}

// redeliver marks unsent what a run that continued as new never took: the
// test environment drops what reaches a run as it closes, where Temporal
// hands it to the next run. It says whether anything is to be sent again.
func redeliver(st scheduleStep, delivery []int, held map[string]int) bool {
	again := false
	for pass := range 2 { // updates the entity accepted, then signals
		for j, e := range st.events {
			key := string(e.ev.Op) + " " + e.ev.RequestID
			switch {
			case delivery[j] == unsent: // an update refused as busy after its step was sent
				again = true
			case pass == 0 && e.update && delivery[j] == answered:
				held[key]--
			case pass == 0 && e.update && (delivery[j] == sent || delivery[j] == arrived):
				// Lost as the run closed: its sender gets an error and sends it again.
				delivery[j], again = unsent, true
			case pass == 1 && !e.update && delivery[j] == sent && held[key] > 0:
				held[key]--
			case pass == 1 && !e.update && delivery[j] == sent:
				delivery[j], again = unsent, true
			}
		}
	}
	return again
}

// scheduleActivities holds one set of activities per fake Tableau: a new
// client per run would leave its idle connections open, thousands of them
// in a long campaign (too many open files).
var scheduleActivities sync.Map

func activitiesFor(t *testing.T, fake *testsuite.Tableau) *activities.Activities {
	if a, ok := scheduleActivities.Load(fake); ok {
		return a.(*activities.Activities)
	}
	a := activities.New(fake.Client(t, fake.PATConfig()))
	scheduleActivities.Store(fake, a)
	return a
}

// realSummary writes the entity's grants and Tableau's role as accessModel.summary does.
func realSummary(grants []workflows.Grant, tableauRole string) string {
	m := newAccessModel(tableauRole)
	for _, g := range grants {
		switch {
		case g.Source == workflows.SourceTableau:
			m.baseline = string(g.Role)
		default:
			m.grants[string(g.Role)] = g.ExpiresAt
		}
	}
	return m.summary()
}
