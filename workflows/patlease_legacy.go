package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// PATLease is the first lease protocol (superseded by PATLeaseV2, which
// new workers use). It stays registered so lease workflows that workers of
// an older release started, during a rolling upgrade, keep running and
// replay: one workflow per PAT, ID PATLeaseWorkflowID(key), granting a lease
// to one holder at a time, in the order asked, through updates:
//   - acquire {holder}: answers once the lease is the holder's;
//   - renew {holder}: extends it; an error once it is no longer the holder's;
//   - release {holder}: ends it, or withdraws a holder still waiting.
//
// An acquire waits inside its update handler, so more than ten waiting
// processes exhaust Temporal's in-flight updates: the reason for V2.
const (
	PATLeaseWorkflow = "PATLease"
	LeaseAcquire     = "acquire"
	LeaseRenew       = "renew"
	LeaseRelease     = "release"
	maxLeaseEvents   = 1000
)

// LeaseTaskQueue is where lease workflows run, polled by every worker
// whatever its own task queue: workers of several sites (or a deployment
// that changed TABFLOW_TASK_QUEUE) share one lease per PAT.
const LeaseTaskQueue = "tabflow-pat-leases"

// leaseQueueHandOff is the change ID (one per loop turn) at which a lease
// workflow started on a site's task queue, before LeaseTaskQueue, moves there.
const leaseQueueHandOff = "lease-queue"

// PATLeaseWorkflowID is the lease workflow of a PAT (key: server/site/name).
func PATLeaseWorkflowID(key string) string { return "tabflow-pat-lease/" + key }

// PATLeaseInput starts (or continues) a lease workflow.
type PATLeaseInput struct {
	TTL     time.Duration `json:"ttl"`
	Holder  string        `json:"holder,omitempty"` // carried across continue-as-new
	Expires time.Time     `json:"expires,omitzero"` // the holder's lease end
	// Queue is the holders that were waiting, in order: they ask again on
	// the next run and keep their places (one that does not is passed over).
	Queue []string `json:"queue,omitempty"`
}

// LeaseGrant answers acquire: the lease is the holder's for TTL, or (Retry)
// the workflow is continuing as new and the holder must ask again.
type LeaseGrant struct {
	TTL   time.Duration `json:"ttl"`
	Retry bool          `json:"retry,omitempty"`
	// Waited is how long the request waited in the queue before the lease
	// was granted: the lease's TTL counts from the grant, so the holder's
	// deadline is (when it asked) + Waited + TTL, whatever the clocks say.
	Waited time.Duration `json:"waited,omitempty"`
	// Withdrawn answers a waiting acquire whose holder released (gave up)
	// before it was granted: the update ends rather than waiting on.
	Withdrawn bool `json:"withdrawn,omitempty"`
	// Waiting (PATLeaseV2's renew) is how many other holders wait: a
	// worker keeps handing the lease between its own sessions past its
	// quantum while nobody does.
	Waiting int `json:"waiting,omitempty"`
	// Urgency (PATLeaseV2's renew) is the most urgent level among them.
	Urgency int `json:"urgency,omitempty"`
}

// leaseWithdrawPatch marks acquires that end when their holder withdraws,
// so they no longer hold one of Temporal's in-flight update slots for ever.
const leaseWithdrawPatch = "lease-withdraw"

// PATLease is the lease workflow; see the constants above.
func PATLease(ctx workflow.Context, in PATLeaseInput) error {
	if in.TTL <= 0 {
		return newInvalidInput("invalid input: ttl must be positive")
	}
	holder, expires := in.Holder, in.Expires
	ttls := map[string]time.Duration{} // what each holder asked for
	ttlOf := func(h string) time.Duration {
		if d := ttls[h]; d > 0 {
			return d
		}
		return in.TTL
	}
	var queue []string
	draining := false
	queue = slices.Clone(in.Queue)
	asking := map[string]bool{} // holders whose acquire is waiting in this run
	onLeaseQueue := workflow.GetInfo(ctx).TaskQueueName == LeaseTaskQueue
	// waiting says a holder waits for a grant. On the lease queue only one
	// still asking counts: a carried one that never asks again used to keep
	// the loop turning without yielding (TMPRL1101), so no history holds
	// that state and the narrower test replays. Elsewhere the first live
	// turn moves the run to the lease queue, as it always did.
	waiting := func() bool {
		if !onLeaseQueue {
			return len(queue) > 0
		}
		return slices.ContainsFunc(queue, func(h string) bool { return asking[h] })
	}
	grant := func() {
		if holder != "" || draining {
			return
		}
		// The first holder still asking; a carried one that has not asked
		// again in this run has gone, and is passed over.
		i := slices.IndexFunc(queue, func(h string) bool { return asking[h] })
		if i < 0 {
			return
		}
		holder, queue = queue[i], queue[i+1:]
		expires = workflow.Now(ctx).Add(ttlOf(holder))
	}
	// Every update names its holder; one without is refused before it is
	// accepted (it never enters history).
	named := workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, r LeaseRequest) error {
		if strings.TrimSpace(r.Holder) == "" {
			return newInvalidInput("invalid input: holder is required")
		}
		return nil
	}}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, LeaseAcquire, func(ctx workflow.Context, r LeaseRequest) (LeaseGrant, error) {
		arrived := workflow.Now(ctx)
		ttls[r.Holder] = r.TTL
		asking[r.Holder] = true
		defer delete(asking, r.Holder)
		withdrawable := workflow.GetVersion(ctx, leaseWithdrawPatch, workflow.DefaultVersion, 1) == 1
		if holder != r.Holder && !slices.Contains(queue, r.Holder) {
			queue = append(queue, r.Holder)
		}
		grant()
		withdrawn := func() bool { return withdrawable && holder != r.Holder && !slices.Contains(queue, r.Holder) }
		if err := workflow.Await(ctx, func() bool { return holder == r.Holder || draining || withdrawn() }); err != nil {
			return LeaseGrant{}, err
		}
		switch {
		case holder == r.Holder:
			ttl := ttlOf(r.Holder)
			return LeaseGrant{TTL: ttl, Waited: max(0, expires.Add(-ttl).Sub(arrived))}, nil
		case withdrawn():
			return LeaseGrant{Withdrawn: true}, nil
		}
		return LeaseGrant{Retry: true}, nil
	}, named); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, LeaseRenew, func(ctx workflow.Context, r LeaseRequest) (LeaseGrant, error) {
		if holder != r.Holder {
			return LeaseGrant{}, fmt.Errorf("the lease is not held by %s (it expired)", r.Holder)
		}
		if r.TTL > 0 {
			ttls[r.Holder] = r.TTL
		}
		expires = workflow.Now(ctx).Add(ttlOf(r.Holder))
		return LeaseGrant{TTL: ttlOf(r.Holder)}, nil
	}, named); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, LeaseRelease, func(ctx workflow.Context, r LeaseRequest) error {
		queue = slices.DeleteFunc(queue, func(h string) bool { return h == r.Holder })
		delete(ttls, r.Holder)
		if holder == r.Holder {
			holder = ""
			grant()
		}
		return nil
	}, named); err != nil {
		return err
	}
	for turn := 1; ; turn++ {
		if !onLeaseQueue && !draining && workflow.GetVersion(ctx, fmt.Sprintf("%s/%d", leaseQueueHandOff, turn), workflow.DefaultVersion, 1) == 1 {
			draining = true // its first live turn: move to LeaseTaskQueue, waiting holders ask again there
		}
		if holder != "" {
			wait := expires.Sub(workflow.Now(ctx))
			if wait <= 0 {
				holder = "" // not renewed in time: its holder is gone
				grant()
				continue
			}
			if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return holder == "" || draining }); err != nil {
				return err
			}
		} else if err := workflow.Await(ctx, func() bool { return holder != "" || waiting() || draining }); err != nil {
			return err
		}
		grant()
		if !draining && workflow.GetInfo(ctx).GetCurrentHistoryLength() > maxLeaseEvents {
			draining = true // waiting holders are told to ask again
		}
		if draining {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			return workflow.NewContinueAsNewError(workflow.WithWorkflowTaskQueue(ctx, LeaseTaskQueue), PATLeaseWorkflow,
				PATLeaseInput{TTL: in.TTL, Holder: holder, Expires: expires, Queue: queue})
		}
	}
}
