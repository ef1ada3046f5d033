package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Bounds that keep an entity's history, its continue-as-new input and its
// memory far below Temporal's limits, whatever its input stream.
const (
	maxHistory       = 200     // records kept (and answered by the history query)
	maxRequestIDs    = 10_000  // handled requests remembered, as digests
	maxRunEvents     = 2_000   // history events before continuing as new
	maxRunBytes      = 4 << 20 // history bytes before continuing as new
	expiryRetryDelay = 10 * time.Minute
)

// accessEntityPatch marks the access entity's versions: DefaultVersion runs
// replay as userAccessV1, 1 as userAccessV2, 2 is the current rules.
const accessEntityPatch = "access-entity-v2"

// accessRulesHandOff is the change ID (one per loop turn) at which a run of
// version 2 hands its memory to the current rules.
const accessRulesHandOff = "access-rules-v3"

// UserAccessInput starts a user's access entity, with workflow ID
// UserAccessWorkflowID(task queue, user), by Update-With-Start (the access
// update) or signal-with-start (the access signal).
type UserAccessInput struct {
	User string `json:"user"`
	// MaxEventsPerRun continues as new after this many applied events
	// (0: when Temporal suggests it, or the run's history grows large).
	MaxEventsPerRun int `json:"maxEventsPerRun,omitempty"`
	// IdleTimeout is read only by runs of version 1; the entity no longer
	// finishes when idle.
	IdleTimeout string `json:"idleTimeout,omitempty"`
	// State is carried from the previous run by continue-as-new.
	State *UserAccessState `json:"state,omitempty"`
	inputProblems
}

// check rejects an input no entity version can run with.
func (in UserAccessInput) check() error {
	p := problems(in.problems)
	p.checkUserName("user", in.User)
	if in.MaxEventsPerRun < 0 {
		p.add("maxEventsPerRun", "must not be negative")
	}
	return p.err()
}

// UserAccessResult is what an entity says when it ends (the forget update).
type UserAccessResult struct {
	User    string         `json:"user"`
	Events  int            `json:"events"`
	Grants  []Grant        `json:"grants,omitempty"`
	History []AccessRecord `json:"history"`
}

// HistoryPage asks the history query for older records: those before Seq
// Before (0: the newest), at most Limit (0: all kept).
type HistoryPage struct {
	Before int `json:"before,omitempty"`
	Limit  int `json:"limit,omitempty"`
}

// UserAccess is the per-site, per-user access entity (SPEC §3.1): it takes
// the user's grants and revokes in arrival order, one at a time, applies
// each as a Provision/Deprovision child workflow as the rules (access_rules.go)
// decide, revokes time-bound grants at expiry, and never forgets a request
// it handled. It waits without a timer while idle, continues as new with its
// whole state, and ends only on the forget update.
func UserAccess(ctx workflow.Context, in UserAccessInput) (*UserAccessResult, error) {
	switch workflow.GetVersion(ctx, accessEntityPatch, workflow.DefaultVersion, 2) {
	case workflow.DefaultVersion:
		return userAccessV1(ctx, in)
	case 1:
		return userAccessV2(ctx, in)
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	if workflow.GetInfo(ctx).WorkflowExecution.ID == legacyUserAccessWorkflowID(in.User) {
		return handOverLegacy(ctx, in)
	}
	legacy := workflow.GetVersion(ctx, accessEquivalencePatch, workflow.DefaultVersion, 1) == workflow.DefaultVersion
	e := newEntity(ctx, in, legacy)
	if err := e.register(ctx); err != nil {
		return nil, err
	}
	var last *AccessRecord
	if n := len(e.st.History); n > 0 {
		last = &e.st.History[n-1]
	}
	e.show(ctx, last)
	return e.run(ctx)
}

// awaitChild waits for an event's child workflow, admitting access signals
// as they arrive meanwhile: a signal's duration counts from its arrival,
// and it may coalesce with the events waiting. Signals are only ever taken
// with ReceiveAsync on the main coroutine: a goroutine blocked in Receive,
// or a Selector left behind once its future won, is handed a signal it may
// never take, and the signal is lost to this run.
func (e *entity) awaitChild(ctx workflow.Context, child workflow.Future, out any) error {
	for !e.legacy && !child.IsReady() {
		if err := workflow.Await(ctx, func() bool { return child.IsReady() || e.signals.Len() > 0 }); err != nil {
			return err
		}
		e.drainSignals(ctx)
	}
	return child.Get(ctx, out)
}

// entity is one run of UserAccess.
type entity struct {
	in        UserAccessInput
	st        *UserAccessState
	misrouted string // why this entity refuses every event, if it does
	queue     []queued
	answers   map[int]*AccessRecord // update tickets → their records
	tickets   int
	handled   int
	forget    bool
	// closing is set once the run continues as new: new updates are
	// refused (their senders retry, reaching the next run), so a steady
	// stream of updates cannot hold the run open.
	closing bool
	signals workflow.ReceiveChannel
	// inFlight is the event being applied, if any.
	inFlight *queued
	// legacy is a run started before accessEquivalencePatch.
	legacy bool
}

func newEntity(ctx workflow.Context, in UserAccessInput, legacy bool) *entity {
	st := in.State
	if st == nil {
		st = &UserAccessState{}
	}
	st.load(legacy)
	e := &entity{in: in, st: st, legacy: legacy, answers: map[int]*AccessRecord{}, signals: workflow.GetSignalChannel(ctx, AccessSignal)}
	if !legacy {
		e.misrouted = misrouted(ctx, in.User) // first: a misrouted entity applies nothing it carried either
	}
	pending := st.Pending
	st.Pending = nil
	for _, p := range pending { // accepted by an earlier run before any forget: queued again
		e.admit(ctx, p, 0)
	}
	e.forget = st.Forget
	e.misrouted = misrouted(ctx, in.User)
	return e
}

// parse reads an event; the current rules refuse more than runs started
// before them did.
func (e *entity) parse(raw AccessEvent, received time.Time) (parsedEvent, string) {
	ev, msg := parseEvent(raw, received)
	if msg == "" && !e.legacy {
		msg = equivalenceProblems(ev, raw, received)
	}
	return ev, msg
}

func (e *entity) register(ctx workflow.Context) error {
	if err := registerAccess(ctx, e.st, e.st.grantsView, e.onUpdate, e.validateUpdate); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, ForgetUpdate, func(ctx workflow.Context) (string, error) {
		e.drainSignals(ctx) // signals that arrived first are still applied
		e.forget = true
		return fmt.Sprintf("the entity ends once its %d queued events are applied; the grants it holds stay in Tableau", len(e.queue)), nil
	}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context) error {
		if msg := e.st.forgetRefusal(e.waiting()); msg != "" {
			return newInvalidInput(msg)
		}
		return nil
	}})
}

// forgetStands checks forget once more before the entity ends: a run never
// ends holding a time-bound grant, whichever way forget came (a version-2
// run's forget had no validator and travels as State.Forget).
func (e *entity) forgetStands(ctx workflow.Context) bool {
	msg := e.st.forgetRefusal(e.waiting())
	if msg == "" || e.legacy {
		return true
	}
	e.forget = false
	e.answer(ctx, e.newRecord(PendingEvent{Event: AccessEvent{Op: OpForget}, ReceivedAt: workflow.Now(ctx)}, OutcomeRejected, msg), 0)
	return false
}

// validateUpdate rejects an invalid access update before it is accepted, so
// it never enters history.
func (e *entity) validateUpdate(ctx workflow.Context, ev AccessEvent) error {
	if e.closing && e.misrouted == "" && !e.forget {
		return temporal.NewApplicationError(e.refusal(), ErrEntityBusy) // not now, rather than no
	}
	msg := e.refusal()
	if msg == "" {
		_, msg = e.parse(ev, workflow.Now(ctx))
	}
	if msg != "" {
		return newInvalidInput(msg)
	}
	return nil
}

// refusal is why no event can be taken now, or "".
func (e *entity) refusal() string {
	switch {
	case e.misrouted != "":
		return e.misrouted
	case e.forget:
		return "this entity is ending (forget): send the event again once it has ended, to start a new one"
	case e.closing:
		return EntityContinuingAsNew + ": this run is continuing as new; send the event again (the next run takes it)"
	}
	return ""
}

// onUpdate queues the event behind every earlier one and answers with its
// record once it is applied, or at once when it needs no Tableau call.
func (e *entity) onUpdate(ctx workflow.Context, ev AccessEvent) (AccessRecord, error) {
	e.drainSignals(ctx) // signals that arrived first go first
	e.tickets++
	ticket := e.tickets
	e.admit(ctx, PendingEvent{Event: ev, ReceivedAt: workflow.Now(ctx)}, ticket)
	return awaitAnswer(ctx, e.answers, ticket)
}

// drainSignals takes every buffered access signal.
func (e *entity) drainSignals(ctx workflow.Context) {
	eachBuffered(e.signals, func(ev AccessEvent) { e.admit(ctx, PendingEvent{Event: ev, ReceivedAt: workflow.Now(ctx)}, 0) })
}

// answer records rec and hands it to the update waiting for it, if any.
func (e *entity) answer(ctx workflow.Context, rec AccessRecord, ticket int) {
	rec = e.record(ctx, rec)
	if ticket > 0 {
		e.answers[ticket] = &rec
	}
}

// waiting is the parsed events in the queue.
// waiting is the event being applied, if any, and those in the queue.
func (e *entity) waiting() []parsedEvent {
	var out []parsedEvent
	if e.inFlight != nil {
		out = append(out, e.inFlight.ev)
	}
	for _, q := range e.queue {
		out = append(out, q.ev)
	}
	return out
}

func (e *entity) run(ctx workflow.Context) (*UserAccessResult, error) {
	for {
		if e.shouldContinueAsNew(ctx) {
			return nil, e.continueAsNew(ctx)
		}
		e.drainSignals(ctx)
		if len(e.queue) > 0 {
			e.applyNext(ctx)
			continue
		}
		if g := e.st.dueGrant(workflow.Now(ctx)); g != nil {
			e.expire(ctx, *g)
			continue
		}
		if e.forget && e.forgetStands(ctx) {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return nil, err
			}
			return &UserAccessResult{User: e.in.User, Events: e.st.Seq, Grants: e.st.grantsView(), History: e.st.History}, nil
		}
		if err := e.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// wait blocks until an event arrives or a grant expires: with no time-bound
// grant, it waits without a timer, which costs nothing.
func (e *entity) wait(ctx workflow.Context) error {
	return awaitUntil(ctx, e.st.nextDue(), func() bool { return len(e.queue) > 0 || e.signals.Len() > 0 || e.forget })
}

func (e *entity) shouldContinueAsNew(ctx workflow.Context) bool {
	return runIsFull(ctx, e.in.MaxEventsPerRun, e.handled)
}

// continueAsNew hands the whole state to a new run. Every accepted update is
// answered first (updates cannot cross runs) and no new one is accepted;
// queued signals travel as Pending, and signals buffered now are drained
// into it.
func (e *entity) continueAsNew(ctx workflow.Context) error {
	e.closing = true
	hasTicket := func() bool { return slices.ContainsFunc(e.queue, func(q queued) bool { return q.ticket > 0 }) }
	if err := answerEveryUpdate(ctx, hasTicket, e.applyNext); err != nil {
		return err
	}
	e.drainSignals(ctx)
	for _, q := range e.queue {
		e.st.Pending = append(e.st.Pending, q.PendingEvent)
	}
	return continueWith(ctx, e.in, e.st, e.forget)
}

// applyNext applies the first queued event and answers its update, if any.
func (e *entity) applyNext(ctx workflow.Context) {
	q := e.queue[0]
	e.queue = e.queue[1:]
	e.inFlight = &q
	rec := e.apply(ctx, q)
	e.inFlight = nil
	e.answer(ctx, rec, q.ticket)
	e.handled++
}

// newRecord is a record of p, numbered as p arrived (or now, for an expiry).
func (e *entity) newRecord(p PendingEvent, outcome Outcome, msg string) AccessRecord {
	if p.Seq == 0 {
		e.st.Seq++
		p.Seq = e.st.Seq
	}
	ev := p.Event
	return AccessRecord{Seq: p.Seq, Op: ev.Op, Role: ev.Role, RequestID: ev.RequestID, At: ev.At,
		ReceivedAt: p.ReceivedAt, Outcome: outcome, Message: msg}
}

// legacyUserAccessWorkflowID is the ID entities had before they were per
// site (version 1).
func legacyUserAccessWorkflowID(user string) string {
	return "tableau-access/" + strings.ToLower(strings.TrimSpace(user))
}
