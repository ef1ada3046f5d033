package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"tabflow/internal/every"
	"tabflow/tableau"
	"tabflow/workflows"
)

// Lease timing. A holder that dies frees the PAT within leaseTTL; a live one
// renews every leaseRenewEvery, and gives its session up (abandons its call
// and signs out) leaseMargin before the lease could expire unrenewed.
const (
	leaseTTL        = 10 * time.Second
	leaseRenewEvery = 2 * time.Second
	leaseMargin     = 4 * time.Second
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

// NewFleetLock is a fleet-wide PAT lease held in Temporal by PATLease
// workflows on workflows.LeaseTaskQueue, which every worker polls; identity
// names this worker in the holders.
func NewFleetLock(c client.Client, identity string) *FleetLock {
	l := &FleetLock{client: c, identity: identity}
	l.send = l.update
	return l
}

// FleetLock is a tableau.FleetLock held in Temporal itself: one PATLease
// workflow per PAT, on the lease task queue every worker polls, so every
// worker of the deployment shares it with no other infrastructure.
type FleetLock struct {
	client   client.Client
	identity string
	// send is update; tests replace it to play an unreachable Temporal.
	send func(ctx context.Context, id, name string, req workflows.LeaseRequest, start bool) (workflows.LeaseGrant, error)

	mu   sync.Mutex
	held map[string]*heldLease // by key: leases this worker holds between sessions
}

// heldLease is a lease this worker holds, in use by one of its sessions or
// lingering for the next.
type heldLease struct {
	lost   <-chan struct{}
	end    func() // stops renewing and releases it
	since  time.Time
	inUse  bool
	linger *time.Timer
}

// Acquire takes the PAT's lease: handed over from this worker's previous
// session when it still lingers, else from the lease workflow.
func (l *FleetLock) Acquire(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	l.mu.Lock()
	if h := l.held[key]; h != nil && !h.inUse && !isClosed(h.lost) && h.linger.Stop() {
		h.inUse = true
		l.mu.Unlock()
		return h.lost, l.handOver(key, h), nil
	}
	l.mu.Unlock()
	lost, end, err := l.acquire(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	h := &heldLease{lost: lost, end: end, since: time.Now(), inUse: true}
	l.mu.Lock()
	if l.held == nil {
		l.held = map[string]*heldLease{}
	}
	l.held[key] = h
	l.mu.Unlock()
	return lost, l.handOver(key, h), nil
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
			if time.Since(h.since) >= handOverQuantum || isClosed(h.lost) {
				delete(l.held, key)
				go h.end()
				return
			}
			h.linger = time.AfterFunc(handOverLinger, func() {
				l.mu.Lock()
				defer l.mu.Unlock()
				if h.inUse { // handed over meanwhile
					return
				}
				if l.held[key] == h {
					delete(l.held, key)
				}
				go h.end()
			})
		})
	}
}

// Close releases the leases that linger for a next session, at once: a
// stopping worker must not leave the PAT to its lease's expiry.
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
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// acquire asks the lease workflow for the lease and keeps it renewed until end.
func (l *FleetLock) acquire(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	id := workflows.PATLeaseWorkflowID(key)
	req := workflows.LeaseRequest{Holder: l.identity + "/" + rand.Text()[:10], TTL: leaseTTL}
	for {
		sent := time.Now()
		grant, err := l.send(ctx, id, workflows.LeaseAcquire, req, true)
		if err != nil {
			l.release(id, req) // withdraw from the queue: the lease must not go to no one
			return nil, nil, err
		}
		if grant.Retry || grant.Withdrawn {
			// The lease workflow continued as new: ask again, after a pause,
			// so a workflow that keeps answering so is not hammered.
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		// The lease runs TTL from when it was granted, which is Waited after
		// the request reached the lease workflow, so no earlier than sent +
		// Waited: a holder that queued behind another keeps its full lease.
		lost := make(chan struct{})
		stop := every.Tick(context.WithoutCancel(ctx), leaseRenewEvery, l.renewal(ctx, id, req, sent.Add(grant.Waited+grant.TTL-leaseMargin), lost))
		released := false
		return lost, func() {
			if !released {
				released = true
				stop()
				l.release(id, req)
			}
		}, nil
	}
}

// renewal renews the lease, every tick until released; when a renewal
// cannot be confirmed before deadline (measured from when it was sent, so
// always before the lease workflow's own expiry), it closes lost and stops.
func (l *FleetLock) renewal(ctx context.Context, id string, req workflows.LeaseRequest, deadline time.Time, lost chan struct{}) func() bool {
	return func() bool {
		if time.Now().After(deadline) {
			close(lost)
			return false
		}
		sent := time.Now()
		rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		grant, err := l.send(rctx, id, workflows.LeaseRenew, req, false)
		cancel()
		if err == nil {
			deadline = sent.Add(grant.TTL - leaseMargin)
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

type leaseGone struct{ err error }

func (e *leaseGone) Error() string { return e.err.Error() }

func (l *FleetLock) release(id string, req workflows.LeaseRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.send(ctx, id, workflows.LeaseRelease, req, false) // an unreleased lease expires on its own
}

// update sends one lease update; acquire starts the lease workflow if need be.
func (l *FleetLock) update(ctx context.Context, id, name string, req workflows.LeaseRequest, start bool) (workflows.LeaseGrant, error) {
	opts := client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: name, Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted}
	var h client.WorkflowUpdateHandle
	var err error
	if start {
		h, err = l.client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: l.client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
				ID: id, TaskQueue: workflows.LeaseTaskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
				StaticSummary: "PAT lease: one live Tableau session at a time across the fleet",
			}, workflows.PATLeaseWorkflow, workflows.PATLeaseInput{TTL: leaseTTL}),
			UpdateOptions: opts,
		})
	} else {
		h, err = l.client.UpdateWorkflow(ctx, opts)
	}
	if err != nil {
		return workflows.LeaseGrant{}, fmt.Errorf("PAT lease %s: %w", name, err)
	}
	var grant workflows.LeaseGrant
	if err := h.Get(ctx, &grant); err != nil {
		if name == workflows.LeaseRenew {
			return grant, &leaseGone{err}
		}
		return grant, fmt.Errorf("PAT lease %s: %w", name, err)
	}
	return grant, nil
}

var _ tableau.FleetLock = (*FleetLock)(nil)
