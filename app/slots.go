package app

import (
	"context"
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
// while fewer than lookahead sessions wait; waiting says how many do.
type sessionSlots struct {
	lookahead int
	waiting   func() (int, <-chan struct{})
}

// recheck bounds how long a slot waits when the count of issued slots, not
// the sessions, held it back (nothing signals a slot released).
const recheck = 50 * time.Millisecond

func (s *sessionSlots) ReserveSlot(ctx context.Context, info worker.SlotReservationInfo) (*worker.SlotPermit, error) {
	for {
		n, fewer := s.waiting()
		if n < s.lookahead && info.NumIssuedSlots() < maxActivitySlots {
			return &worker.SlotPermit{}, nil
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
	if n, _ := s.waiting(); n < s.lookahead && info.NumIssuedSlots() < maxActivitySlots {
		return &worker.SlotPermit{}
	}
	return nil
}

func (s *sessionSlots) MarkSlotUsed(worker.SlotMarkUsedInfo) {}
func (s *sessionSlots) ReleaseSlot(worker.SlotReleaseInfo)   {}
func (s *sessionSlots) MaxSlots() int                        { return maxActivitySlots }
