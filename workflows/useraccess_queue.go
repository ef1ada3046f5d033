package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"tabflow/tableau"
)

// The entity's queue: how an arriving event is admitted, coalesced with
// those waiting (access_rules.go's coalesce decides), or answered at once.

// queued is an accepted event waiting its turn; ticket > 0 for an update's.
type queued struct {
	PendingEvent
	ev     parsedEvent
	ticket int
}

// handles says ev is q's request, or one folded into q.
func (q queued) handles(ev parsedEvent) bool {
	if q.ev.op == ev.op && q.ev.requestID == ev.requestID {
		return true
	}
	return q.Folded != nil && slices.Contains(q.Folded.Keys, requestKey(ev.op, ev.requestID))
}

// admit queues an event, or records at once what became of it: rejected,
// a duplicate, stale, or expired. An event waiting for the same role that
// this one makes moot is answered superseded (see coalesce).
func (e *entity) admit(ctx workflow.Context, p PendingEvent, ticket int) {
	if p.Seq == 0 {
		e.st.Seq++
		p.Seq = e.st.Seq
	}
	ev, msg := e.parse(p.Event, p.ReceivedAt)
	if e.misrouted != "" || e.forget || (e.legacy && e.refusal() != "" && !e.closing) { // while closing, a signal is still taken: it travels to the next run
		msg = e.refusal()
	}
	if msg != "" {
		e.answer(ctx, e.newRecord(p, OutcomeRejected, msg), ticket)
		return
	}
	if outcome, why := e.st.moot(ev, workflow.Now(ctx)); outcome != "" {
		e.answer(ctx, e.newRecord(p, outcome, why), ticket)
		return
	}
	if e.legacy {
		e.admitLegacy(ctx, p, ev, ticket)
		return
	}
	// A redelivery of a request waiting or being applied is a duplicate now:
	// queued, it could be folded into, then turn out a duplicate at its turn.
	if ev.requestID != "" && (slices.ContainsFunc(e.queue, func(q queued) bool { return q.handles(ev) }) || (e.inFlight != nil && e.inFlight.handles(ev))) {
		e.answer(ctx, e.newRecord(p, OutcomeDuplicate, fmt.Sprintf("%s request %s is already waiting to be applied: ignored", ev.op, capText(ev.requestID, 64))), ticket)
		return
	}
	if ev.op == OpReconcile {
		e.admitPlan(ctx, p, ev, ticket)
		return
	}
	waiting := make([]parsedEvent, len(e.queue))
	for i, q := range e.queue {
		waiting[i] = q.ev
		if f := q.Folded; f != nil && f.At != nil && (q.ev.at == nil || f.At.After(*q.ev.at)) {
			waiting[i].at = f.At // what was folded into it is applied at its turn too
		}
	}
	if k, fold := coalesce(e.latestAt(ev.role), waiting, ev); k >= 0 {
		w := e.queue[k]
		e.queue = slices.Delete(e.queue, k, k+1)
		why := supersededBy(p)
		if fold {
			why += "; one grant is held, with the later end of the two"
		}
		e.answer(ctx, e.newRecord(w.PendingEvent, OutcomeSuperseded, why), w.ticket)
		p.fold(w.PendingEvent, w.ev)
		if fold {
			ev.expiresAt = laterEnd(w.ev.expiresAt, ev.expiresAt)
			p.Event.Duration, p.Event.ExpiresAt = "", ""
			if ev.expiresAt != nil {
				p.Event.ExpiresAt = ev.expiresAt.Format(time.RFC3339Nano)
			}
		}
	}
	e.queue = append(e.queue, queued{PendingEvent: p, ev: ev, ticket: ticket})
}

// admitPlan queues an approved reconcile change. Each is applied in turn
// (none makes another moot), so they are bounded by count instead: past
// maxWaitingPlans, the oldest plan waiting gives way to the newest.
func (e *entity) admitPlan(ctx workflow.Context, p PendingEvent, ev parsedEvent, ticket int) {
	var plans []int
	for i, q := range e.queue {
		if q.ev.op == OpReconcile {
			plans = append(plans, i)
		}
	}
	if len(plans) >= maxWaitingPlans {
		w := e.queue[plans[0]]
		e.queue = slices.Delete(e.queue, plans[0], plans[0]+1)
		e.answer(ctx, e.newRecord(w.PendingEvent, OutcomeSuperseded, fmt.Sprintf("superseded by plan %s: at most %d approved plans wait at once, and the oldest gives way", capText(ev.requestID, 64), maxWaitingPlans)), w.ticket)
		p.fold(w.PendingEvent, w.ev)
	}
	e.queue = append(e.queue, queued{PendingEvent: p, ev: ev, ticket: ticket})
}

// latestAt is the latest `at` for role of the events applied, or being
// applied, before the queue.
func (e *entity) latestAt(role tableau.SiteRole) *time.Time {
	var latest *time.Time
	if last, ok := e.st.LastAt[role]; ok {
		latest = &last
	}
	if f := e.inFlight; f != nil && f.ev.op != OpReconcile && f.ev.role == role && f.ev.at != nil && (latest == nil || f.ev.at.After(*latest)) {
		latest = f.ev.at
	}
	return latest
}

func supersededBy(p PendingEvent) string {
	by := string(p.Event.Op) + " " + p.Event.Role
	if p.Event.RequestID != "" {
		by += " (request " + capText(p.Event.RequestID, 64) + ")"
	}
	return "superseded by " + by + ", the later event for the same role: applying it alone gives what applying both in order gives"
}
