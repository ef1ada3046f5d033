package app

import (
	"context"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/worker"

	"tabflow/tableau"
)

// A worker with PATs takes an activity task only while fewer of its
// sessions wait for a PAT than it has PATs: the rest of a backlog stays in
// Temporal's task queue, where Priority orders it (SPEC §3.3), so a revoke
// started behind a bulk onboarding is the next task this worker takes, not
// the thousand-and-first. Without the gate the SDK takes up to 1,000
// activities at once and they wait here in whatever order they came.

// maxActivitySlots is the SDK's default, kept as the ceiling.
const maxActivitySlots = 1000

// sessionTuner is the worker's tuner: the SDK's fixed defaults, with the
// activity slots gated by the sessions waiting for one of the pats PATs.
func sessionTuner(pats int) (worker.WorkerTuner, error) {
	fixed := func() worker.SlotSupplier {
		s, _ := worker.NewFixedSizeSlotSupplier(maxActivitySlots)
		return s
	}
	return worker.NewCompositeTuner(worker.CompositeTunerOptions{
		WorkflowSlotSupplier:        fixed(),
		ActivitySlotSupplier:        &sessionSlots{lookahead: pats, waiting: tableau.SessionsWaiting},
		LocalActivitySlotSupplier:   fixed(),
		NexusSlotSupplier:           fixed(),
		SessionActivitySlotSupplier: fixed(),
	})
}

// sessionSlots is the gate: a slot (a poll for an activity task) is given
// while fewer than lookahead sessions wait or are being polled for; waiting
// says how many sessions wait. Counting the polls keeps two pollers from
// fetching two tasks when one session's worth is wanted: the task behind
// them stays in Temporal, where a revoke that arrives meanwhile overtakes it.
type sessionSlots struct {
	lookahead int
	waiting   func() (int, <-chan struct{})
	polling   atomic.Int64 // slots given whose poll has not brought a task yet
}

// recheck bounds how long a slot waits when the count of issued slots, not
// the sessions, held it back (nothing signals a slot released).
const recheck = 50 * time.Millisecond

func (s *sessionSlots) ReserveSlot(ctx context.Context, info worker.SlotReservationInfo) (*worker.SlotPermit, error) {
	for {
		n, fewer := s.waiting()
		if p := s.take(n, info); p != nil {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-fewer:
		case <-time.After(recheck):
		}
	}
}

func (s *sessionSlots) TryReserveSlot(info worker.SlotReservationInfo) *worker.SlotPermit {
	n, _ := s.waiting()
	return s.take(n, info)
}

// take gives a slot if waiting sessions and polls leave room, else nil.
func (s *sessionSlots) take(waiting int, info worker.SlotReservationInfo) *worker.SlotPermit {
	for {
		polling := s.polling.Load()
		if waiting+int(polling) >= s.lookahead || info.NumIssuedSlots() >= maxActivitySlots {
			return nil
		}
		if s.polling.CompareAndSwap(polling, polling+1) {
			return &worker.SlotPermit{}
		}
	}
}

// used marks a permit whose poll brought a task.
type used struct{}

// MarkSlotUsed: the poll brought a task, which now waits as a session.
func (s *sessionSlots) MarkSlotUsed(info worker.SlotMarkUsedInfo) {
	info.Permit().UserData = used{}
	s.polling.Add(-1)
}

func (s *sessionSlots) ReleaseSlot(info worker.SlotReleaseInfo) {
	if _, ok := info.Permit().UserData.(used); !ok { // the poll brought nothing
		s.polling.Add(-1)
	}
}

func (s *sessionSlots) MaxSlots() int { return maxActivitySlots }
