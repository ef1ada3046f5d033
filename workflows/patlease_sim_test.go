package workflows_test

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	sdktestsuite "go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"tabflow/workflows"
)

// A simulation of worker processes sharing one PAT through a PATLeaseV2
// workflow in the SDK's test environment, driven by a seeded schedule: the
// processes ask, poll, claim, renew and release as app.FleetLock does, and
// crash, give up, stop asking, try briefly (a pool's quick tries) or lose
// messages, while the workflow continues as new at random points. The
// checks of SPEC §2's invariants live in patlease_schedule_test.go.

// Client timing, as app.FleetLock's (the lease's own timing is workflows').
const (
	simStep      = 50 * time.Millisecond // the driver's tick; polls of the next in line round up to it
	simPollOther = 250 * time.Millisecond
	simQuickTry  = 300 * time.Millisecond
)

// leaseSchedule is what one seed draws.
type leaseSchedule struct {
	seed                             uint64
	processes                        int
	length                           time.Duration
	pStart, pCrash, pGiveUp, pSilent float64 // per process per step / per give-up
	pQuick, pLoss, pContinue         float64
	maxHold                          time.Duration
	maxDelay                         time.Duration // a message reaches the workflow up to this late
}

func drawLeaseSchedule(seed uint64) leaseSchedule {
	r := rand.New(rand.NewPCG(seed, 25))
	return leaseSchedule{
		seed:      seed,
		processes: 1 + r.IntN(30),
		length:    time.Duration(20+r.IntN(40)) * time.Second,
		pStart:    0.01 + 0.2*r.Float64(),
		pCrash:    0.004 * r.Float64(),
		pGiveUp:   0.01 * r.Float64(),
		pSilent:   r.Float64(),
		pQuick:    0.5 * r.Float64(),
		pLoss:     0.2 * r.Float64(),
		pContinue: 0.02 * r.Float64(),
		maxHold:   time.Duration(100+r.IntN(12000)) * time.Millisecond,
		maxDelay:  time.Duration(r.IntN(500)) * time.Millisecond,
	}
}

type procState int

const (
	idle procState = iota
	waiting
	claiming
	holding
	dead
)

// simProcess is one worker process (one lease request at a time).
type simProcess struct {
	id, attempt   int
	state         procState
	holder        string
	urgency       int
	quitAt        time.Time // a quick try gives up then
	asked, polled time.Time
	position      int
	renewing      bool
	renewSent     time.Time
	deadline      time.Time // it stops using the PAT by then unless renewed
	holdUntil     time.Time
	heldSince     time.Time
}

// interval is a span during which a process used the PAT.
type interval struct {
	holder     string
	start, end time.Time
}

// leaseSim is the state of one run of a schedule.
type leaseSim struct {
	s         leaseSchedule
	r         *rand.Rand
	env       *sdktestsuite.TestWorkflowEnvironment
	procs     []*simProcess
	used      []interval
	stopped   map[string]time.Time // holder → when it stopped asking (or released, or crashed)
	delivered map[string]time.Time // holder → when its last message reached the workflow
	inFlight  int                  // renews sent and not answered
	maxIn     int
	updates   int
	runs      int
	check     *leaseChecker
	failure   error
}

func (m *leaseSim) fail(format string, args ...any) {
	if m.failure == nil {
		m.failure = fmt.Errorf("at %s: "+format, append([]any{m.env.Now().Format("15:04:05.000")}, args...)...)
	}
}

// lost says a message does not get through: Temporal unreachable for it,
// or the run it was meant for already ended.
func (m *leaseSim) lost() bool { return m.r.Float64() < m.s.pLoss || m.env.IsWorkflowCompleted() }

func (m *leaseSim) signal(name string, req workflows.LeaseRequest) {
	if !m.lost() {
		m.later(req.Holder, func() { m.env.SignalWorkflow(name, req) })
	}
}

// later sends a message after the network's delay; one still on its way
// when the run ends is lost with it.
func (m *leaseSim) later(holder string, send func()) {
	env := m.env
	env.RegisterDelayedCallback(func() {
		if !env.IsWorkflowCompleted() {
			m.delivered[holder] = env.Now()
			send()
		}
	}, time.Duration(m.r.Int64N(int64(m.s.maxDelay)+1)))
}

// quietSince is when holder stopped asking and its last message arrived.
func (m *leaseSim) quietSince(holder string) time.Time {
	at := m.stopped[holder]
	if d := m.delivered[holder]; d.After(at) {
		return d
	}
	return at
}

// stop records that a holder stopped asking; it must be gone within a TTL.
func (m *leaseSim) stop(p *simProcess, now time.Time) {
	if p.holder != "" {
		if _, ok := m.stopped[p.holder]; !ok {
			m.stopped[p.holder] = now
		}
	}
}

// endUse closes p's interval of use at end.
func (m *leaseSim) endUse(p *simProcess, end time.Time) {
	if p.state == holding {
		m.used = append(m.used, interval{p.holder, p.heldSince, end})
	}
}

func (m *leaseSim) step(p *simProcess, now time.Time) {
	switch p.state {
	case dead:
		return
	case idle:
		if m.r.Float64() < m.s.pStart {
			p.attempt++
			p.holder = fmt.Sprintf("p%d/%d", p.id, p.attempt)
			p.state, p.urgency, p.asked, p.polled, p.position = waiting, 1+m.r.IntN(5), time.Time{}, time.Time{}, 1
			p.quitAt = time.Time{}
			if m.r.Float64() < m.s.pQuick {
				p.quitAt = now.Add(simQuickTry)
			}
		}
		return
	}
	if m.r.Float64() < m.s.pCrash { // the process dies: it says nothing more
		m.endUse(p, now)
		m.stop(p, now)
		p.state = dead
		return
	}
	switch p.state {
	case waiting:
		if (!p.quitAt.IsZero() && !now.Before(p.quitAt)) || m.r.Float64() < m.s.pGiveUp {
			m.stop(p, now)
			if m.r.Float64() >= m.s.pSilent { // withdraws, as FleetLock does; else just stops asking
				m.signal(workflows.LeaseRelease, workflows.LeaseRequest{Holder: p.holder})
			}
			p.state = idle
			return
		}
		if p.asked.IsZero() || now.Sub(p.asked) >= workflows.LeaseAskEvery {
			m.signal(workflows.LeaseAsk, workflows.LeaseRequest{Holder: p.holder, TTL: workflows.LeaseTTL, Urgency: p.urgency})
			p.asked = now
		}
		poll := simPollOther
		if p.position == 0 {
			poll = simStep
		}
		if now.Sub(p.polled) < poll || m.lost() {
			return
		}
		p.polled = now
		st, ok := m.status(p.holder)
		if !ok {
			return
		}
		p.position = st.Position
		switch {
		case st.Held:
			p.state = claiming
			m.renew(p, now)
		case st.Position < 0:
			p.asked = time.Time{} // ask again at once
		}
	case holding:
		switch {
		case !now.Before(p.deadline): // could not renew in time: gives the session up
			m.endUse(p, p.deadline)
			m.stop(p, now)
			p.state = idle
		case !now.Before(p.holdUntil):
			m.endUse(p, now)
			m.stop(p, now)
			m.signal(workflows.LeaseRelease, workflows.LeaseRequest{Holder: p.holder})
			p.state = idle
		case !p.renewing && now.Sub(p.renewSent) >= workflows.LeaseRenewEvery:
			m.renew(p, now)
		}
	}
}

// status queries the workflow; false when the run already ended.
func (m *leaseSim) status(holder string) (workflows.LeaseStatus, bool) {
	var st workflows.LeaseStatus
	if m.env.IsWorkflowCompleted() {
		return st, false
	}
	v, err := m.env.QueryWorkflow(workflows.LeaseStatusQuery, holder)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		m.fail("status query: %v", err)
	}
	return st, err == nil
}

// renew claims or renews p's lease; a lost message is an unanswered renew.
func (m *leaseSim) renew(p *simProcess, now time.Time) {
	p.renewing, p.renewSent = true, now
	if m.lost() {
		p.renewing = false
		if p.state == claiming { // the claim failed: ask again
			p.state, p.asked = waiting, time.Time{}
		}
		return
	}
	m.inFlight++
	m.updates++
	m.maxIn = max(m.maxIn, m.inFlight)
	holder, id := p.holder, fmt.Sprintf("%s-%d", p.holder, m.updates)
	m.later(holder, func() { m.sendRenew(p, holder, id, now) })
}

func (m *leaseSim) sendRenew(p *simProcess, holder, id string, now time.Time) {
	m.env.UpdateWorkflow(workflows.LeaseRenew, id, &sdktestsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { m.fail("renew by %s rejected: %v", holder, err) },
		OnComplete: func(v any, err error) {
			m.inFlight--
			if p.holder != holder || (p.state != claiming && p.state != holding) {
				return // answered after the process moved on
			}
			p.renewing = false
			if err != nil {
				if p.state == holding {
					m.endUse(p, m.env.Now())
					m.stop(p, m.env.Now())
					p.state = idle
				} else {
					p.state, p.asked = waiting, time.Time{}
				}
				return
			}
			grant := v.(workflows.LeaseGrant)
			p.deadline = now.Add(grant.TTL - workflows.LeaseMargin)
			if p.state == claiming {
				p.state, p.heldSince = holding, m.env.Now()
				p.holdUntil = p.heldSince.Add(time.Duration(m.r.Int64N(int64(m.s.maxHold))))
			}
		},
	}, workflows.LeaseRequest{Holder: holder, TTL: workflows.LeaseTTL})
}

func newLeaseSim(s leaseSchedule) *leaseSim {
	m := &leaseSim{s: s, r: rand.New(rand.NewPCG(s.seed, 26)), stopped: map[string]time.Time{}, delivered: map[string]time.Time{}, check: &leaseChecker{}}
	for i := range s.processes {
		m.procs = append(m.procs, &simProcess{id: i})
	}
	return m
}

// run plays the schedule through as many runs of the workflow as it
// continues as new into.
func (m *leaseSim) run() error {
	input := workflows.PATLeaseV2Input{TTL: workflows.LeaseTTL}
	start := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	end := start.Add(m.s.length)
	for ; ; m.runs++ {
		var suite sdktestsuite.WorkflowTestSuite
		suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))) // thousands of timers a schedule
		m.env = suite.NewTestWorkflowEnvironment()
		m.env.RegisterWorkflowWithOptions(workflows.PATLeaseV2, workflow.RegisterOptions{Name: workflows.PATLeaseV2Workflow})
		m.env.SetStartTime(start)
		m.env.SetTestTimeout(time.Minute)
		var tick func()
		tick = func() {
			now := m.env.Now()
			m.check.observe(m, now)
			if m.failure != nil || !now.Before(end) {
				m.env.CancelWorkflow()
				return
			}
			for _, i := range m.r.Perm(len(m.procs)) {
				m.step(m.procs[i], now)
			}
			if m.r.Float64() < m.s.pContinue {
				m.env.SetCurrentHistoryLength(5000) // the next workflow task continues as new
			}
			m.env.RegisterDelayedCallback(tick, simStep)
		}
		m.env.RegisterDelayedCallback(tick, simStep) // once the run has started
		m.env.ExecuteWorkflow(workflows.PATLeaseV2Workflow, input)
		if m.failure != nil {
			return m.failure
		}
		err := m.env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		switch {
		case errors.As(err, &can):
			input = workflows.PATLeaseV2Input{}
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &input); err != nil {
				return err
			}
			start = m.env.Now()
			for _, p := range m.procs { // renews in flight when the run ended are lost with it
				if p.renewing {
					m.inFlight--
					p.renewing = false
					if p.state == claiming {
						p.state, p.asked = waiting, time.Time{}
					}
				}
			}
		case err == nil || !m.env.Now().Before(end):
			return m.check.final(m)
		default:
			return fmt.Errorf("run %d of the lease workflow failed: %w", m.runs, err)
		}
	}
}
