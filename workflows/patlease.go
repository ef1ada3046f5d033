package workflows

import (
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// PATLeaseV2 serialises the sessions of one PAT across every worker of a
// deployment (Tableau allows one live session per PAT). One workflow per PAT,
// ID PATLeaseV2WorkflowID(key), on LeaseTaskQueue; its rules are leaseBook's.
//
// Nobody waits inside the workflow, so however many processes wait, they
// hold none of Temporal's in-flight update slots (at most 10 per workflow):
//   - ask (signal, sent with start): queue me, or keep me queued; sent
//     every LeaseAskEvery while waiting;
//   - status (query, with the holder): am I the holder, and where am I in
//     the queue; waiters poll it;
//   - renew (update, the holder only): claims the lease after a grant and
//     extends it; an error once it is no longer the holder's;
//   - release (signal): ends the lease, or withdraws a waiter.
//
// A lease that is not renewed expires after its TTL (a durable timer), so a
// holder that dies frees the PAT within seconds. History stays bounded: past
// maxLeaseEvents the workflow continues as new with the whole book.
const (
	PATLeaseV2Workflow = "PATLeaseV2"
	LeaseAsk           = "ask"
	LeaseStatusQuery   = "status"
)

// PATLeaseV2WorkflowID is the lease workflow of a PAT (key: server/site/name).
// The ID names the protocol, so a lease workflow of an older protocol, even
// one stranded on a task queue nobody polls any more, is never asked.
func PATLeaseV2WorkflowID(key string) string { return "tabflow-pat-lease/v2/" + key }

// LeaseRequest names a holder (a worker's session).
type LeaseRequest struct {
	Holder string `json:"holder"`
	// TTL is how long the holder's lease lasts unrenewed (0: the TTL the
	// workflow started with), so a worker version that changes it is
	// heard by lease workflows that started before.
	TTL time.Duration `json:"ttl,omitempty"`
	// Urgency orders waiters (SPEC §3.3): 1 revokes … 5 listings; 0 is
	// LeaseUrgencyDefault.
	Urgency int `json:"urgency,omitempty"`
}

// PATLeaseV2 is the lease workflow; see the constants above.
func PATLeaseV2(ctx workflow.Context, in PATLeaseV2Input) error {
	if in.TTL <= 0 {
		return newInvalidInput("invalid input: ttl must be positive")
	}
	book := &leaseBook{in}
	// changed wakes the loop when a handler moved the book (a renew that
	// found the lease expired may have granted it to the next waiter).
	changed := false
	if err := workflow.SetQueryHandler(ctx, LeaseStatusQuery, func(holder string) (LeaseStatus, error) {
		return book.status(holder, workflow.Now(ctx)), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, LeaseRenew, func(ctx workflow.Context, r LeaseRequest) (LeaseGrant, error) {
		changed = true
		ttl, err := book.renew(r, workflow.Now(ctx))
		return LeaseGrant{TTL: ttl, Waiting: len(book.Waiters), Urgency: book.mostUrgent(workflow.Now(ctx))}, err
	}, workflow.UpdateHandlerOptions{Validator: validLeaseRequest}); err != nil {
		return err
	}
	asks := workflow.GetSignalChannel(ctx, LeaseAsk)
	releases := workflow.GetSignalChannel(ctx, LeaseRelease)
	var timer workflow.Future // fires at timerAt, when the book next has something to do
	var timerAt time.Time
	for {
		now := workflow.Now(ctx)
		for r := (LeaseRequest{}); asks.ReceiveAsync(&r); r = (LeaseRequest{}) {
			if validLeaseRequest(ctx, r) == nil {
				book.ask(r, now)
			}
		}
		for r := (LeaseRequest{}); releases.ReceiveAsync(&r); r = (LeaseRequest{}) {
			book.release(r.Holder, now)
		}
		book.settle(now)
		changed = false
		if workflow.GetInfo(ctx).GetCurrentHistoryLength() > maxLeaseEvents {
			// Every signal is in the book and no renew is running (they never
			// wait), so nothing is lost by moving on.
			return workflow.NewContinueAsNewError(workflow.WithWorkflowTaskQueue(ctx, LeaseTaskQueue), PATLeaseV2Workflow, book.PATLeaseV2Input)
		}
		// One timer at a time: an earlier deadline replaces it, a later one
		// waits for it to fire (waking early is harmless, late is not).
		if next := book.next(); !next.IsZero() && (timer == nil || next.Before(timerAt)) {
			timerAt, timer = next, workflow.NewTimer(ctx, next.Sub(now))
		}
		// The condition is false here (the channels are drained, changed is
		// reset, the timer is in the future), so every turn yields.
		if err := workflow.Await(ctx, func() bool {
			return asks.Len() > 0 || releases.Len() > 0 || changed || (timer != nil && timer.IsReady())
		}); err != nil {
			return err
		}
		if timer != nil && timer.IsReady() {
			timer = nil
		}
	}
}

// validLeaseRequest refuses an update without a holder before it is
// accepted (it never enters history), and ignores such a signal.
func validLeaseRequest(_ workflow.Context, r LeaseRequest) error {
	if strings.TrimSpace(r.Holder) == "" {
		return newInvalidInput("invalid input: holder is required")
	}
	return nil
}
