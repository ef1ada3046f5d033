package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

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

// NewFleetLock is a fleet-wide PAT lease held in Temporal by PATLease
// workflows on workflows.LeaseTaskQueue, which every worker polls; identity
// names this worker in the holders.
func NewFleetLock(c client.Client, identity string) tableau.FleetLock {
	l := &fleetLock{client: c, identity: identity}
	l.send = l.update
	return l
}

// fleetLock is tableau.FleetLock held in Temporal itself: one PATLease
// workflow per PAT, on the lease task queue every worker polls, so every
// worker of the deployment shares it with no other infrastructure.
type fleetLock struct {
	client   client.Client
	identity string
	// send is update; tests replace it to play an unreachable Temporal.
	send func(ctx context.Context, id, name string, req workflows.LeaseRequest, start bool) (workflows.LeaseGrant, error)
}

func (l *fleetLock) Acquire(ctx context.Context, key string) (<-chan struct{}, func(), error) {
	id := workflows.PATLeaseWorkflowID(key)
	req := workflows.LeaseRequest{Holder: l.identity + "/" + rand.Text()[:10]}
	for {
		sent := time.Now()
		grant, err := l.send(ctx, id, workflows.LeaseAcquire, req, true)
		if err != nil {
			l.release(id, req) // withdraw from the queue: the lease must not go to no one
			return nil, nil, err
		}
		if grant.Retry || grant.Withdrawn {
			continue // the lease workflow continued as new: ask again
		}
		// The lease runs TTL from when it was granted, which is Waited after
		// the request reached the lease workflow, so no earlier than sent +
		// Waited: a holder that queued behind another keeps its full lease.
		lost, stop := make(chan struct{}), make(chan struct{})
		go l.keep(ctx, id, req, sent.Add(grant.Waited+grant.TTL-leaseMargin), lost, stop)
		released := false
		return lost, func() {
			if !released {
				released = true
				close(stop)
				l.release(id, req)
			}
		}, nil
	}
}

// keep renews the lease until released; when a renewal cannot be confirmed
// before deadline (measured from when it was sent, so always before the
// lease workflow's own expiry), it closes lost.
func (l *fleetLock) keep(ctx context.Context, id string, req workflows.LeaseRequest, deadline time.Time, lost, stop chan struct{}) {
	tick := time.NewTicker(leaseRenewEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			close(lost)
			return
		}
		sent := time.Now()
		rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		grant, err := l.send(rctx, id, workflows.LeaseRenew, req, false)
		cancel()
		if err == nil {
			deadline = sent.Add(grant.TTL - leaseMargin)
			continue
		}
		var gone *leaseGone
		if errors.As(err, &gone) || time.Now().After(deadline) {
			close(lost)
			return
		}
	}
}

type leaseGone struct{ err error }

func (e *leaseGone) Error() string { return e.err.Error() }

func (l *fleetLock) release(id string, req workflows.LeaseRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.send(ctx, id, workflows.LeaseRelease, req, false) // an unreleased lease expires on its own
}

// update sends one lease update; acquire starts the lease workflow if need be.
func (l *fleetLock) update(ctx context.Context, id, name string, req workflows.LeaseRequest, start bool) (workflows.LeaseGrant, error) {
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
