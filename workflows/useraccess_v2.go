package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/internal/clip"
	"tabflow/tableau"
)

// This file and useraccess_v2_apply.go are the access entity as it ran from
// patch accessEntityPatch version 1 until the rules of SPEC §3.1 (per-role
// staleness, (op, requestId) dedupe, the baseline, coalescing) replaced it.
// They are frozen: only so that runs started by that version replay, and
// hand their memory to the current code at their first live workflow task
// (handOff). Delete both once no such run is left (`temporal workflow list
// --query 'WorkflowType="UserAccess" AND TemporalChangeVersion="access-entity-v2-1"'`).

// Version 2's bounds, frozen with it.
const (
	maxHistoryV2       = 200
	maxRequestIDsV2    = 10_000
	maxPendingV2       = 500
	maxFieldBytesV2    = 256
	expiryRetryDelayV2 = 10 * time.Minute
)

// accessEventV2 is the access event as version 2 decoded it: a field added
// to AccessEvent later is an unknown field here, as it was then.
type accessEventV2 struct {
	Op        Op     `json:"op"`
	Role      string `json:"role"`
	RequestID string `json:"requestId,omitempty"`
	At        string `json:"at,omitempty"`
	Duration  string `json:"duration,omitempty"`
	ExpiresAt string `json:"expiresAt,omitempty"`
	inputProblems
}

// current is the event as the current rules read it.
func (ev accessEventV2) current() AccessEvent {
	return AccessEvent{Op: ev.Op, Role: ev.Role, RequestID: ev.RequestID, At: ev.At, Duration: ev.Duration, ExpiresAt: ev.ExpiresAt, inputProblems: ev.inputProblems}
}

type pendingV2 struct {
	Event      accessEventV2
	ReceivedAt time.Time
}

// userAccessV2 is UserAccess at patch version 1.
func userAccessV2(ctx workflow.Context, in UserAccessInput) (*UserAccessResult, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	e := newEntityV2(ctx, in)
	if err := e.register(ctx); err != nil {
		return nil, err
	}
	return e.run(ctx)
}

// handOff is true at the first loop turn this code runs live rather than in
// replay: the run then continues as new into the current rules. The change ID
// is new at every turn, so replaying a history recorded before (no marker)
// takes every turn as version 2 did, and a history that handed off replays
// the hand-off where it happened.
func (e *entityV2) handOff(ctx workflow.Context) bool {
	e.turns++
	return workflow.GetVersion(ctx, fmt.Sprintf("%s/%d", accessRulesHandOff, e.turns), workflow.DefaultVersion, 1) == 1
}

// entityV2 is one run of UserAccess.
type entityV2 struct {
	in        UserAccessInput
	st        *UserAccessState
	misrouted string // why this entityV2 refuses every event, if it does
	applied   map[string]bool
	queue     []queuedV2
	answers   map[int]*AccessRecord // update tickets → their records
	tickets   int
	handled   int
	forget    bool
	signals   workflow.ReceiveChannel
	turns     int
}

// queuedV2 is an event waiting its turn; ticket > 0 for an update's.
type queuedV2 struct {
	pendingV2
	ticket int
}

func newEntityV2(ctx workflow.Context, in UserAccessInput) *entityV2 {
	st := in.State
	if st == nil {
		st = &UserAccessState{}
	}
	e := &entityV2{in: in, st: st, applied: map[string]bool{}, answers: map[int]*AccessRecord{},
		signals: workflow.GetSignalChannel(ctx, AccessSignal), forget: st.Forget}
	for _, id := range st.RequestIDs { // remembered by a run before the upgrade
		st.Applied = append(st.Applied, requestDigest(id))
	}
	st.RequestIDs = nil
	st.Applied = lastN(st.Applied, maxRequestIDsV2)
	for _, d := range st.Applied {
		e.applied[d] = true
	}
	for _, p := range st.Pending {
		e.queue = append(e.queue, queuedV2{pendingV2: pendingV2{Event: accessEventV2{Op: p.Event.Op, Role: p.Event.Role, RequestID: p.Event.RequestID, At: p.Event.At, Duration: p.Event.Duration, ExpiresAt: p.Event.ExpiresAt}, ReceivedAt: p.ReceivedAt}})
	}
	st.Pending = nil
	e.misrouted = misrouted(ctx, in.User)
	return e
}

func (e *entityV2) register(ctx workflow.Context) error {
	if err := registerAccess(ctx, e.st, func() []Grant { return e.st.Grants }, e.onUpdate, e.validateUpdate); err != nil {
		return err
	}
	return workflow.SetUpdateHandler(ctx, ForgetUpdate, func(ctx workflow.Context) (string, error) {
		e.drainSignals(ctx) // signals that arrived first are still applied
		e.forget = true
		return fmt.Sprintf("the entity ends once its %d queued events are applied; the grants it holds stay in Tableau", len(e.queue)), nil
	})
}

// validateUpdate rejects an invalid access update before it is accepted, so
// it never enters history.
func (e *entityV2) validateUpdate(ctx workflow.Context, ev accessEventV2) error {
	if msg := e.refusal(ctx, ev); msg != "" {
		return newInvalidInput(msg)
	}
	return nil
}

// refusal is why an event cannot be queuedV2, or "".
func (e *entityV2) refusal(ctx workflow.Context, ev accessEventV2) string {
	switch {
	case e.misrouted != "":
		return e.misrouted
	case e.forget:
		return "this entityV2 is ending (forget): start a new one"
	case len(e.queue) >= maxPendingV2:
		return fmt.Sprintf("%d events are already waiting to be applied: send this one again later", maxPendingV2)
	}
	if _, msg := parseEventV2(ev, workflow.Now(ctx)); msg != "" {
		return msg
	}
	return ""
}

// onUpdate queues the event behind every earlier one and answers with its
// record once it is applied.
func (e *entityV2) onUpdate(ctx workflow.Context, ev accessEventV2) (AccessRecord, error) {
	e.drainSignals(ctx) // signals that arrived first go first
	e.tickets++
	ticket := e.tickets
	e.queue = append(e.queue, queuedV2{pendingV2: pendingV2{Event: ev, ReceivedAt: workflow.Now(ctx)}, ticket: ticket})
	return awaitAnswer(ctx, e.answers, ticket)
}

// drainSignals queues every buffered access signal; an invalid one, or one
// beyond the queue's bound, is recorded as rejected at once.
func (e *entityV2) drainSignals(ctx workflow.Context) {
	eachBuffered(e.signals, func(ev accessEventV2) {
		if msg := e.refusal(ctx, ev); msg != "" {
			e.record(ctx, e.newRecord(ev, workflow.Now(ctx), OutcomeRejected, msg))
			return
		}
		e.queue = append(e.queue, queuedV2{pendingV2: pendingV2{Event: ev, ReceivedAt: workflow.Now(ctx)}})
	})
}

func (e *entityV2) run(ctx workflow.Context) (*UserAccessResult, error) {
	for {
		if e.handOff(ctx) || e.shouldContinueAsNew(ctx) {
			return nil, e.continueAsNew(ctx)
		}
		e.drainSignals(ctx)
		if len(e.queue) > 0 {
			e.applyNext(ctx)
			continue
		}
		if g := e.dueGrant(ctx); g != nil {
			e.expire(ctx, *g)
			continue
		}
		if e.forget {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return nil, err
			}
			return &UserAccessResult{User: e.in.User, Events: e.st.Seq, Grants: e.st.Grants, History: e.st.History}, nil
		}
		if err := e.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// wait blocks until an event arrives or a grant expires: with no time-bound
// grant, it waits without a timer, which costs nothing.
func (e *entityV2) wait(ctx workflow.Context) error {
	return awaitUntil(ctx, e.nextExpiry(), func() bool { return len(e.queue) > 0 || e.signals.Len() > 0 || e.forget })
}

func (e *entityV2) shouldContinueAsNew(ctx workflow.Context) bool {
	return runIsFull(ctx, e.in.MaxEventsPerRun, e.handled)
}

// continueAsNew hands the whole state to a new run. Every accepted update is
// answered first (updates cannot cross runs); queuedV2 signals travel as
// Pending, and signals buffered now are drained into it.
func (e *entityV2) continueAsNew(ctx workflow.Context) error {
	hasTicket := func() bool { return slices.ContainsFunc(e.queue, func(q queuedV2) bool { return q.ticket > 0 }) }
	if err := answerEveryUpdate(ctx, hasTicket, e.applyNext); err != nil {
		return err
	}
	e.drainSignals(ctx)
	for _, q := range e.queue {
		e.st.Pending = append(e.st.Pending, PendingEvent{Event: q.Event.current(), ReceivedAt: q.ReceivedAt})
	}
	return continueWith(ctx, e.in, e.st, e.forget)
}

// applyNext applies the first queuedV2 event and answers its update, if any.
func (e *entityV2) applyNext(ctx workflow.Context) {
	q := e.queue[0]
	e.queue = e.queue[1:]
	rec := e.apply(ctx, q.pendingV2)
	e.record(ctx, rec)
	e.handled++
	if q.ticket > 0 {
		e.answers[q.ticket] = &rec
	}
}

func (e *entityV2) newRecord(ev accessEventV2, received time.Time, outcome Outcome, msg string) AccessRecord {
	e.st.Seq++
	return AccessRecord{Seq: e.st.Seq, Op: Op(clip.Text(string(ev.Op), maxFieldBytes)), Role: clip.Text(ev.Role, maxFieldBytes), RequestID: clip.Text(ev.RequestID, maxFieldBytes), At: clip.Text(ev.At, maxFieldBytes),
		ReceivedAt: received, Outcome: outcome, Message: msg}
}

// apply decides one event against the entityV2's memory and carries it out.
func (e *entityV2) apply(ctx workflow.Context, p pendingV2) AccessRecord {
	ev := p.Event
	rec := e.newRecord(ev, p.ReceivedAt, "", "")
	if e.misrouted != "" {
		rec.Outcome, rec.Message = OutcomeRejected, e.misrouted
		return rec
	}
	parsed, msg := parseEventV2(ev, workflow.Now(ctx))
	switch {
	case msg != "":
		rec.Outcome, rec.Message = OutcomeRejected, msg
		return rec
	case ev.RequestID != "" && e.applied[requestDigest(ev.RequestID)]:
		rec.Outcome, rec.Message = OutcomeDuplicate, fmt.Sprintf("request %s was already applied: ignored", rec.RequestID)
		return rec
	case parsed.at != nil && e.st.LastAppliedAt != nil && parsed.at.Before(*e.st.LastAppliedAt):
		rec.Outcome = OutcomeStale
		rec.Message = fmt.Sprintf("event time %s is older than the last applied event (%s): skipped", parsed.at.Format(time.RFC3339), e.st.LastAppliedAt.Format(time.RFC3339))
		return rec
	}
	var ok bool
	if parsed.op == "grant" {
		ok = e.grant(ctx, &rec, Grant{Role: parsed.role, ExpiresAt: parsed.expiresAt, RequestID: ev.RequestID})
	} else {
		ok = e.revoke(ctx, &rec, parsed.role, "revoke")
	}
	if !ok {
		return rec // not remembered: a redelivery may succeed
	}
	if ev.RequestID != "" {
		d := requestDigest(ev.RequestID)
		e.applied[d] = true
		e.st.Applied = append(e.st.Applied, d)
		if len(e.st.Applied) > maxRequestIDsV2 {
			delete(e.applied, e.st.Applied[0])
			e.st.Applied = e.st.Applied[1:]
		}
	}
	if parsed.at != nil && (e.st.LastAppliedAt == nil || parsed.at.After(*e.st.LastAppliedAt)) {
		e.st.LastAppliedAt = parsed.at
	}
	return rec
}

// grant holds g and sets the user's role to the highestV2 grant held (so a
// lower grant never demotes a user who holds a higher one).
func (e *entityV2) grant(ctx workflow.Context, rec *AccessRecord, g Grant) bool {
	grants := withoutRoleV2(e.st.Grants, g.Role)
	grants = append(grants, g)
	target := highestV2(grants)
	var res ProvisionResult
	err := workflow.ExecuteChildWorkflow(e.childCtx(ctx, rec.Seq, "grant"), ProvisionWorkflow, ProvisionInput{User: e.in.User, Role: string(target)}).Get(ctx, &res)
	if !e.settle(rec, err, grants, res.PreviousRole, res.Role, res.Changed, res.Message) {
		return false
	}
	if target != g.Role {
		rec.Message = fmt.Sprintf("%s grant held; the user keeps the higher grant %s. %s", g.Role, target, res.Message)
	}
	if g.ExpiresAt != nil {
		rec.ExpiresAt = g.ExpiresAt.Format(time.RFC3339)
		rec.Message += fmt.Sprintf(" (the %s grant expires at %s)", g.Role, rec.ExpiresAt)
	}
	return true
}

// revoke drops the role's grant. Only when the role is the user's current
// one does the role change: to the highestV2 grant still held, or Unlicensed.
func (e *entityV2) revoke(ctx workflow.Context, rec *AccessRecord, role tableau.SiteRole, op Op) bool {
	grants := withoutRoleV2(e.st.Grants, role)
	fallback := highestV2(grants)
	var res DeprovisionResult
	in := DeprovisionInput{User: e.in.User, Role: string(role), FallbackRole: string(fallback)}
	err := workflow.ExecuteChildWorkflow(e.childCtx(ctx, rec.Seq, op), DeprovisionWorkflow, in).Get(ctx, &res)
	return e.settle(rec, err, grants, res.PreviousRole, res.Role, res.Changed, res.Message)
}

// settle records a child workflow's outcome; only a success makes grants the
// entityV2's memory (a failure leaves it as it was, matching Tableau).
func (e *entityV2) settle(rec *AccessRecord, err error, grants []Grant, before, after string, changed bool, msg string) bool {
	if err != nil {
		rec.Outcome, rec.Message = OutcomeFailed, activities.RootMessage(err)
		return false
	}
	e.st.Grants = grants
	rec.RoleBefore, rec.RoleAfter, rec.Message = before, after, msg
	rec.Outcome = OutcomeUnchanged
	if changed {
		rec.Outcome = OutcomeApplied
	}
	return true
}
