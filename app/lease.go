package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"tabflow/internal/every"
	"tabflow/tableau"
	"tabflow/workflows"
)

// Hand-over (SPEC §2): a session that ends keeps the lease for up to
// handOverLinger for the next session of this worker waiting for the same
// PAT, so the lease costs Temporal round trips per hand-over between
// workers, not per session; after handOverQuantum of holding it the worker
// yields (releases), and its next session queues behind other workers.
const (
	handOverLinger  = 50 * time.Millisecond
	handOverQuantum = 2 * time.Second
)

// NewFleetLock is a fleet-wide PAT lease held in Temporal by PATLeaseV2
// workflows on workflows.LeaseTaskQueue, which every worker polls; identity
// names this worker in the holders.
func NewFleetLock(c client.Client, identity string) *FleetLock {
	return &FleetLock{leases: temporalLeases{c}, identity: identity}
}

// FleetLock is a tableau.FleetLock held in Temporal itself: one PATLeaseV2
// workflow per PAT, on the lease task queue every worker polls, so every
// worker of the deployment shares it with no other infrastructure.
type FleetLock struct {
	leases   leaseWorkflows
	identity string
	// linger is handOverLinger unless a test lengthens it (a session's
	// next one must arrive within it, which a busy machine may not do).
	linger time.Duration

	mu      sync.Mutex
	held    map[string]*heldLease // by key: leases this worker holds between sessions
	ending  int                   // releases running in the background, awaited by Close
	endings sync.Cond             // signalled (on mu) when one of them ends
}

// heldLease is a lease this worker holds, in use by one of its sessions or
// lingering for the next.
type heldLease struct {
	lost <-chan struct{}
	end  func() // stops renewing and releases it
	// othersWait says, as of the last renewal or status, that other
	// holders wait: only then does the quantum make this worker yield; and
	// othersUrgency is the most urgent level among them: a session's end
	// yields at once to one more urgent than this worker's next (behind).
	othersWait    atomic.Bool
	othersUrgency atomic.Int32
	behind        func() int
	since         time.Time
	inUse         bool
	linger        *time.Timer
}

// Acquire takes the PAT's lease: handed over from this worker's previous
// session when it still lingers, else from the lease workflow.
func (l *FleetLock) Acquire(ctx context.Context, key string, urgency tableau.SessionUrgency) (<-chan struct{}, func(), error) {
	l.mu.Lock()
	if h := l.held[key]; h != nil && !h.inUse && !isClosed(h.lost) && h.linger.Stop() {
		h.inUse = true
		l.mu.Unlock()
		return h.lost, l.handOver(key, h), nil
	}
	l.mu.Unlock()
	h, err := l.acquire(ctx, key, urgency)
	if err != nil {
		return nil, nil, err
	}
	h.since, h.inUse, h.behind = time.Now(), true, urgency.Behind
	l.mu.Lock()
	if l.held == nil {
		l.held = map[string]*heldLease{}
	}
	l.held[key] = h
	l.mu.Unlock()
	return h.lost, l.handOver(key, h), nil
}

// handOver is a session's release: the lease lingers for the next session
// of this worker, unless its quantum is spent or it was lost.
func (l *FleetLock) handOver(key string, h *heldLease) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			h.inUse = false
			if (time.Since(h.since) >= handOverQuantum && h.othersWait.Load()) || h.moreUrgentElsewhere() || isClosed(h.lost) {
				delete(l.held, key)
				l.endInBackground(h)
				return
			}
			linger := l.linger
			if linger == 0 {
				linger = handOverLinger
			}
			h.linger = time.AfterFunc(linger, func() {
				l.mu.Lock()
				defer l.mu.Unlock()
				if h.inUse { // handed over meanwhile
					return
				}
				if l.held[key] == h {
					delete(l.held, key)
				}
				l.endInBackground(h)
			})
		})
	}
}

// moreUrgentElsewhere says another worker waits at a more urgent level than
// any session of this worker waiting for the PAT (or none waits here).
func (h *heldLease) moreUrgentElsewhere() bool {
	others := int(h.othersUrgency.Load())
	if others == 0 || !h.othersWait.Load() {
		return false
	}
	here := h.behind()
	return here == 0 || others < here
}

// endInBackground releases h's lease without holding up the caller; l.mu is held.
func (l *FleetLock) endInBackground(h *heldLease) {
	l.ending++
	go func() {
		h.end()
		l.mu.Lock()
		defer l.mu.Unlock()
		l.ending--
		l.endings.Broadcast()
	}()
}

// Close releases every lease this worker holds before it returns: those
// that linger for a next session at once, and those being released in the
// background; a stopping worker must not leave the PAT to its lease's expiry.
// Sessions still running keep theirs (the worker stops them first).
func (l *FleetLock) Close() {
	l.mu.Lock()
	var ends []func()
	for key, h := range l.held {
		if !h.inUse && h.linger.Stop() {
			delete(l.held, key)
			ends = append(ends, h.end)
		}
	}
	l.mu.Unlock()
	for _, end := range ends {
		end()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.endings.L = &l.mu // set here, where Wait needs it (Broadcast does not)
	for l.ending > 0 {
		l.endings.Wait()
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Polling while waiting: the next in line asks for its status often, so a
// hand-over between workers costs tens of milliseconds; the others rarely.
// A status that does not list a waiter yet is expected for leaseAskLanding
// after its ask (the workflow takes the signal in its next task); after
// that the waiter was dropped and asks again.
const (
	leasePollNext   = 20 * time.Millisecond
	leasePollOther  = 250 * time.Millisecond
	leaseAskLanding = time.Second
)

// acquire asks the lease workflow for the lease at the urgency of the
// sessions waiting for it (SPEC §3.3), waits for the grant
// (polling its status, asking again so it stays queued), claims it and
// keeps it renewed until end. Nothing waits inside the lease workflow, so a
// crowd of waiting processes holds none of Temporal's in-flight updates.
func (l *FleetLock) acquire(ctx context.Context, key string, urgency tableau.SessionUrgency) (*heldLease, error) {
	id := workflows.PATLeaseV2WorkflowID(key)
	req := workflows.LeaseRequest{Holder: l.identity + "/" + rand.Text()[:10], TTL: workflows.LeaseTTL}
	var asked time.Time
	var last error // the last failure talking to Temporal, reported if ctx ends
	for {
		if urgency.Ask() < req.Urgency {
			asked = time.Time{} // a more urgent session queued behind this one: say so now
		}
		if time.Since(asked) >= workflows.LeaseAskEvery {
			req.Urgency = urgency.Ask()
			if last = l.leases.ask(ctx, id, req); last == nil {
				asked = time.Now()
			}
		}
		poll := leasePollOther
		if last == nil {
			st, err := l.leases.status(ctx, id, req.Holder)
			switch {
			case err != nil:
				last, asked = err, time.Time{} // a lease workflow that ended starts again at the next ask
			case st.Held:
				sent := time.Now()
				grant, err := l.leases.renew(ctx, id, req) // the claim: the TTL runs from here
				if err == nil {
					lost := make(chan struct{})
					h := &heldLease{lost: lost, behind: urgency.Behind}
					h.others(grant.Waiting, grant.Urgency)
					stop := every.Tick(context.WithoutCancel(ctx), workflows.LeaseRenewEvery, l.renewal(ctx, id, req, sent.Add(grant.TTL-workflows.LeaseMargin), h, lost))
					stopWatch := every.Tick(context.WithoutCancel(ctx), leaseWatchOthers, l.watch(ctx, id, req.Holder, h))
					var once sync.Once
					h.end = func() { once.Do(func() { stop(); stopWatch(); l.release(id, req) }) }
					return h, nil
				}
				last, asked = err, time.Time{} // the offer passed (or Temporal failed): ask again
			case st.Position < 0 && time.Since(asked) < leaseAskLanding:
				poll = leasePollNext // the ask is on its way into the workflow
			case st.Position < 0:
				asked = time.Time{} // dropped (it did not ask in time): ask again at once
			case st.Position == 0:
				poll = leasePollNext
			}
		}
		select {
		case <-ctx.Done():
			l.release(id, req) // withdraw: the lease must not be offered to no one
			if last != nil {
				return nil, fmt.Errorf("%w (last: %v)", ctx.Err(), last)
			}
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// renewal renews the lease, every tick until released; when a renewal
// cannot be confirmed before deadline (measured from when it was sent, so
// always before the lease workflow's own expiry), it closes lost and stops.
func (l *FleetLock) renewal(ctx context.Context, id string, req workflows.LeaseRequest, deadline time.Time, h *heldLease, lost chan struct{}) func() bool {
	return func() bool {
		if time.Now().After(deadline) {
			close(lost)
			return false
		}
		sent := time.Now()
		rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		grant, err := l.leases.renew(rctx, id, req)
		cancel()
		if err == nil {
			deadline = sent.Add(grant.TTL - workflows.LeaseMargin)
			h.others(grant.Waiting, grant.Urgency)
			return true
		}
		var gone *leaseGone
		if errors.As(err, &gone) || time.Now().After(deadline) {
			close(lost)
			return false
		}
		return true
	}
}

// others notes who else waits for the lease, as the lease workflow said.
func (h *heldLease) others(waiting, urgency int) {
	h.othersWait.Store(waiting > 0)
	h.othersUrgency.Store(int32(urgency))
}

// leaseWatchOthers is how often a holder asks the lease workflow how urgent
// its waiters are, while some wait: a renewal (every 2 s) is too seldom for
// a revoke waiting on another worker. A query: nothing enters history.
const leaseWatchOthers = 250 * time.Millisecond

// watch refreshes h's view of the waiters while any wait.
func (l *FleetLock) watch(ctx context.Context, id, holder string, h *heldLease) func() bool {
	return func() bool {
		if !h.othersWait.Load() {
			return true
		}
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseWatchOthers)
		defer cancel()
		if st, err := l.leases.status(qctx, id, holder); err == nil && st.Held {
			h.others(st.Waiting, st.Urgency)
		}
		return true
	}
}

func (l *FleetLock) release(id string, req workflows.LeaseRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.leases.release(ctx, id, req) // an unreleased lease expires on its own, a waiter is dropped
}

// leaseWorkflows is how a worker talks to lease workflows; tests replace it
// to play an unreachable Temporal or a lease workflow that answers so.
type leaseWorkflows interface {
	// ask queues the holder (or keeps it queued), starting the workflow if need be.
	ask(ctx context.Context, id string, req workflows.LeaseRequest) error
	status(ctx context.Context, id, holder string) (workflows.LeaseStatus, error)
	// renew claims or extends the holder's lease; *leaseGone when refused.
	renew(ctx context.Context, id string, req workflows.LeaseRequest) (workflows.LeaseGrant, error)
	release(ctx context.Context, id string, req workflows.LeaseRequest) error
}

// leaseGone is a renewal the lease workflow refused: the lease is not ours.
type leaseGone struct{ err error }

func (e *leaseGone) Error() string { return e.err.Error() }

// temporalLeases is leaseWorkflows on a Temporal client.
type temporalLeases struct{ client client.Client }

func (t temporalLeases) ask(ctx context.Context, id string, req workflows.LeaseRequest) error {
	_, err := t.client.SignalWithStartWorkflow(ctx, id, workflows.LeaseAsk, req, client.StartWorkflowOptions{
		ID: id, TaskQueue: workflows.LeaseTaskQueue,
		StaticSummary: "PAT lease: one live Tableau session at a time across the fleet",
	}, workflows.PATLeaseV2Workflow, workflows.PATLeaseV2Input{TTL: workflows.LeaseTTL})
	if err != nil {
		return fmt.Errorf("PAT lease ask: %w", err)
	}
	return nil
}

func (t temporalLeases) status(ctx context.Context, id, holder string) (workflows.LeaseStatus, error) {
	var st workflows.LeaseStatus
	v, err := t.client.QueryWorkflow(ctx, id, "", workflows.LeaseStatusQuery, holder)
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		return st, fmt.Errorf("PAT lease status: %w", err)
	}
	return st, nil
}

func (t temporalLeases) renew(ctx context.Context, id string, req workflows.LeaseRequest) (workflows.LeaseGrant, error) {
	var grant workflows.LeaseGrant
	h, err := t.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.LeaseRenew,
		Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		return grant, fmt.Errorf("PAT lease renew: %w", err)
	}
	if err := h.Get(ctx, &grant); err != nil {
		return grant, &leaseGone{fmt.Errorf("PAT lease renew: %w", err)}
	}
	return grant, nil
}

func (t temporalLeases) release(ctx context.Context, id string, req workflows.LeaseRequest) error {
	return t.client.SignalWorkflow(ctx, id, "", workflows.LeaseRelease, req)
}

var _ tableau.FleetLock = (*FleetLock)(nil)
