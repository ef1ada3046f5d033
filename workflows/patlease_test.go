package workflows_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	sdktestsuite "go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"tabflow/workflows"
)

// leaseEnv drives a PATLease workflow; grants records who got the lease,
// errs which updates failed.
type leaseEnv struct {
	t       *testing.T
	env     *sdktestsuite.TestWorkflowEnvironment
	grants  []string
	errs    []string
	answers map[string]workflows.LeaseGrant // acquire answers by holder
}

func newLeaseEnv(t *testing.T) *leaseEnv {
	env := newEnv(t)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{TaskQueue: workflows.LeaseTaskQueue})
	return &leaseEnv{t: t, env: env, answers: map[string]workflows.LeaseGrant{}}
}

// at runs fn at d into the test.
func (l *leaseEnv) at(d time.Duration, fn func()) { l.env.RegisterDelayedCallback(fn, d) }

// run runs the lease workflow with leases of ttl.
func (l *leaseEnv) run(ttl time.Duration) {
	l.env.ExecuteWorkflow(workflows.PATLeaseWorkflow, workflows.PATLeaseInput{TTL: ttl})
}

func (l *leaseEnv) send(op, holder string) {
	l.env.UpdateWorkflow(op, op+"-"+holder+"-"+l.env.Now().Format(time.RFC3339Nano), &sdktestsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { l.t.Errorf("%s %s rejected: %v", op, holder, err) },
		OnComplete: func(v any, err error) {
			if err != nil {
				l.errs = append(l.errs, op+" "+holder)
				return
			}
			if op != workflows.LeaseAcquire {
				return
			}
			answer := v.(workflows.LeaseGrant)
			l.answers[holder] = answer
			if !answer.Withdrawn {
				l.grants = append(l.grants, holder)
			}
		},
	}, workflows.LeaseRequest{Holder: holder})
}

func TestPATLeaseIsFirstComeFirstServed(t *testing.T) {
	l := newLeaseEnv(t)
	l.at(0, func() {
		l.send(workflows.LeaseAcquire, "a")
		l.send(workflows.LeaseAcquire, "b")
		l.send(workflows.LeaseAcquire, "c")
	})
	l.at(time.Second, func() {
		assert.Equal(t, []string{"a"}, l.grants, "one holder at a time")
		l.send(workflows.LeaseRelease, "a")
	})
	l.at(2*time.Second, func() {
		assert.Equal(t, []string{"a", "b"}, l.grants, "in the order asked")
		l.send(workflows.LeaseRenew, "c") // not the holder
		l.send(workflows.LeaseRelease, "b")
	})
	l.at(3*time.Second, func() {
		assert.Equal(t, []string{"a", "b", "c"}, l.grants)
		assert.Equal(t, []string{"renew c"}, l.errs, "only the holder renews")
		l.env.CancelWorkflow()
	})
	l.run(10 * time.Second)
}

// A holder that stops renewing (its worker died) loses the lease after the
// TTL, and the next holder gets it, with no manual cleanup.
func TestPATLeaseOfADeadHolderExpires(t *testing.T) {
	l := newLeaseEnv(t)
	l.at(0, func() {
		l.send(workflows.LeaseAcquire, "dead")
		l.send(workflows.LeaseAcquire, "b")
	})
	l.at(5*time.Second, func() { l.send(workflows.LeaseRenew, "dead") }) // one renewal, then silence
	l.at(14*time.Second, func() {
		assert.Equal(t, []string{"dead"}, l.grants, "the renewal at 5 s carried the lease past 10 s")
	})
	l.at(time.Minute, func() {
		require.Equal(t, []string{"dead", "b"}, l.grants)
		l.env.CancelWorkflow()
	})
	l.run(10 * time.Second)
	assert.Equal(t, []string{"dead", "b"}, l.grants)
}

// The lease workflow's history stays bounded: past its limit it continues as
// new, carrying the current lease.
func TestPATLeaseContinuesAsNew(t *testing.T) {
	l := newLeaseEnv(t)
	l.at(0, func() {
		l.send(workflows.LeaseAcquire, "a")
		l.send(workflows.LeaseAcquire, "b")
		l.send(workflows.LeaseAcquire, "c")
	})
	var grantedAt time.Time
	l.at(time.Second, func() {
		l.env.SetCurrentHistoryLength(5000)
		grantedAt = l.env.Now()
		l.send(workflows.LeaseRelease, "a") // b gets the lease, then the run ends
	})
	l.run(10 * time.Second)
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(l.env.GetWorkflowError(), &can), "%v", l.env.GetWorkflowError())
	var next workflows.PATLeaseInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	assert.Equal(t, "b", next.Holder, "the current lease travels to the next run")
	assert.WithinDuration(t, grantedAt.Add(10*time.Second), next.Expires, time.Second, "with its end")
	assert.Equal(t, []string{"c"}, next.Queue, "and the holders still waiting, in order")
	assert.Equal(t, 10*time.Second, next.TTL)
}

// A waiter that gives up (its activity ended) is withdrawn, and its acquire
// is answered, so it does not hold one of Temporal's in-flight update slots
// until the next continue-as-new; a holder that queued is told how long, so
// its lease counts from the grant.
func TestPATLeaseWithdrawnWaitersAreAnswered(t *testing.T) {
	l := newLeaseEnv(t)
	l.at(0, func() {
		l.send(workflows.LeaseAcquire, "a")
		l.send(workflows.LeaseAcquire, "gives-up")
		l.send(workflows.LeaseAcquire, "c")
	})
	l.at(time.Second, func() { l.send(workflows.LeaseRelease, "gives-up") })
	l.at(3*time.Second, func() { l.send(workflows.LeaseRelease, "a") })
	l.at(4*time.Second, func() {
		assert.Equal(t, []string{"a", "c"}, l.grants)
		require.Contains(t, l.answers, "gives-up", "the withdrawn acquire was answered")
		assert.True(t, l.answers["gives-up"].Withdrawn)
		assert.Equal(t, 3*time.Second, l.answers["c"].Waited)
		assert.Zero(t, l.answers["a"].Waited)
		l.env.CancelWorkflow()
	})
	l.run(10 * time.Second)
}

// A lease workflow started on a site's task queue (before leases had their
// own) moves to LeaseTaskQueue at its first live turn, carrying the lease,
// so workers of any task queue share it.
func TestPATLeaseMovesToTheLeaseTaskQueue(t *testing.T) {
	l := &leaseEnv{t: t, env: newEnv(t), answers: map[string]workflows.LeaseGrant{}}
	l.env.SetStartWorkflowOptions(client.StartWorkflowOptions{TaskQueue: "tableau"})
	l.env.ExecuteWorkflow(workflows.PATLeaseWorkflow, workflows.PATLeaseInput{TTL: 10 * time.Second, Holder: "a", Expires: l.env.Now().Add(5 * time.Second)})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(l.env.GetWorkflowError(), &can), "%v", l.env.GetWorkflowError())
	assert.Equal(t, workflows.LeaseTaskQueue, can.TaskQueueName)
	var next workflows.PATLeaseInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	assert.Equal(t, "a", next.Holder, "the current lease moves with it")
}

// An update without a holder is refused before it is accepted.
func TestPATLeaseRefusesAnUnnamedHolder(t *testing.T) {
	l := newLeaseEnv(t)
	var refused error
	l.at(0, func() {
		l.env.UpdateWorkflow(workflows.LeaseAcquire, "unnamed", &sdktestsuite.TestUpdateCallback{
			OnAccept: func() { t.Error("accepted") }, OnReject: func(err error) { refused = err }, OnComplete: func(any, error) {},
		}, workflows.LeaseRequest{Holder: " "})
	})
	l.env.RegisterDelayedCallback(l.env.CancelWorkflow, time.Second)
	l.run(10 * time.Second)
	require.Error(t, refused)
	assert.Contains(t, refused.Error(), "holder is required")
}

// A holder's own TTL counts, not the one the workflow started with: a worker
// version that changes it is heard by lease workflows already running.
func TestPATLeaseUsesTheHoldersTTL(t *testing.T) {
	l := newLeaseEnv(t)
	l.at(0, func() {
		l.env.UpdateWorkflow(workflows.LeaseAcquire, "short", &sdktestsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { t.Error(err) },
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				assert.Equal(t, 3*time.Second, v.(workflows.LeaseGrant).TTL)
				l.grants = append(l.grants, "short")
			},
		}, workflows.LeaseRequest{Holder: "short", TTL: 3 * time.Second})
		l.send(workflows.LeaseAcquire, "next")
	})
	l.at(5*time.Second, func() {
		assert.Equal(t, []string{"short", "next"}, l.grants, "the unrenewed 3 s lease expired, not after 10 s")
		l.env.CancelWorkflow()
	})
	l.run(10 * time.Second)
}

// Holders waiting when the lease workflow continued as new keep their
// places in the next run, whatever order they ask again in; one that never
// asks again is passed over.
func TestPATLeaseKeepsTheWaitersOrderAcrossContinueAsNew(t *testing.T) {
	l := newLeaseEnv(t)
	l.at(0, func() {
		l.send(workflows.LeaseAcquire, "c") // they ask again in another order
		l.send(workflows.LeaseAcquire, "b")
	})
	l.at(time.Second, func() { l.send(workflows.LeaseRelease, "a") })
	l.at(2*time.Second, func() { l.send(workflows.LeaseRelease, "b") })
	l.at(3*time.Second, func() {
		assert.Equal(t, []string{"b", "c"}, l.grants, "in the order they first asked; gone is passed over")
		l.env.CancelWorkflow()
	})
	l.env.ExecuteWorkflow(workflows.PATLeaseWorkflow, workflows.PATLeaseInput{TTL: 10 * time.Second, Holder: "a",
		Expires: l.env.Now().Add(10 * time.Second), Queue: []string{"gone", "b", "c"}})
}

// The lease workflows of the first protocol, still run by older releases'
// workers, no longer spin (TMPRL1101) when a carried waiter never asks
// again: at the tail of the queue after its holder released, or alone.
func TestPATLeaseLegacyDoesNotSpinOnCarriedWaiters(t *testing.T) {
	for name, in := range map[string]workflows.PATLeaseInput{
		"holder releases, carried waiter asks later": {TTL: 10 * time.Second, Holder: "a", Queue: []string{"b"}},
		"a carried waiter alone":                     {TTL: 10 * time.Second, Queue: []string{"b"}},
		"the one never asking at the tail":           {TTL: 10 * time.Second, Holder: "a", Queue: []string{"b", "gone"}},
	} {
		t.Run(name, func(t *testing.T) {
			l := newLeaseEnv(t)
			in.Expires = l.env.Now().Add(10 * time.Second)
			l.at(10*time.Millisecond, func() { l.send(workflows.LeaseRelease, "a") })
			l.at(100*time.Millisecond, func() { l.send(workflows.LeaseAcquire, "b") })
			l.at(2*time.Second, func() {
				l.send(workflows.LeaseRelease, "b")
				l.send(workflows.LeaseAcquire, "c")
			})
			l.at(3*time.Second, l.env.CancelWorkflow)
			l.env.ExecuteWorkflow(workflows.PATLeaseWorkflow, in)
			require.True(t, temporal.IsCanceledError(l.env.GetWorkflowError()), "%v", l.env.GetWorkflowError())
			assert.Equal(t, []string{"b", "c"}, l.grants)
		})
	}
}

// The same carried states in the current protocol: the lease passes to the
// waiter, or the waiter that never asks again is dropped, and every
// workflow task yields.
func TestPATLeaseV2CarriedStatesDoNotWedge(t *testing.T) {
	const ttl = 10 * time.Second
	for name, in := range map[string]func(now time.Time) workflows.PATLeaseV2Input{
		"holder releases, carried waiter asks later": func(now time.Time) workflows.PATLeaseV2Input {
			return workflows.PATLeaseV2Input{TTL: ttl, Holder: "a", Claimed: true, HolderTTL: ttl, Expires: now.Add(ttl),
				Waiters: []workflows.LeaseWaiter{{Holder: "b", Urgency: 3, Arrived: now, Asked: now}}}
		},
		"a carried waiter alone, never asking again": func(now time.Time) workflows.PATLeaseV2Input {
			return workflows.PATLeaseV2Input{TTL: ttl, Waiters: []workflows.LeaseWaiter{{Holder: "gone", Urgency: 3, Arrived: now, Asked: now}}}
		},
		"the one never asking at the tail": func(now time.Time) workflows.PATLeaseV2Input {
			return workflows.PATLeaseV2Input{TTL: ttl, Holder: "a", Claimed: true, HolderTTL: ttl, Expires: now.Add(ttl),
				Waiters: []workflows.LeaseWaiter{{Holder: "b", Urgency: 3, Arrived: now, Asked: now}, {Holder: "gone", Urgency: 3, Arrived: now, Asked: now}}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			env := newEnv(t)
			ask := func(holder string) func() {
				return func() { env.SignalWorkflow(workflows.LeaseAsk, workflows.LeaseRequest{Holder: holder}) }
			}
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.LeaseRelease, workflows.LeaseRequest{Holder: "a"}) }, 10*time.Millisecond)
			env.RegisterDelayedCallback(ask("b"), 100*time.Millisecond)
			env.RegisterDelayedCallback(ask("b"), 4*time.Second)
			env.RegisterDelayedCallback(func() {
				v, err := env.QueryWorkflow(workflows.LeaseStatusQuery, "")
				require.NoError(t, err)
				var st workflows.LeaseStatus
				require.NoError(t, v.Get(&st))
				assert.Equal(t, "b", st.Holder, "the live waiter holds the lease")
				assert.Empty(t, st.Waiters, "the waiter that never asked again was dropped")
				env.CancelWorkflow()
			}, 7*time.Second)
			env.ExecuteWorkflow(workflows.PATLeaseV2Workflow, in(env.Now()))
			require.True(t, temporal.IsCanceledError(env.GetWorkflowError()), "%v", env.GetWorkflowError())
		})
	}
}

// A renew tells the holder how many others wait, so a worker keeps its
// lease past its quantum only while nobody does; a renew by anyone else is
// refused.
func TestPATLeaseV2RenewSaysWhoWaits(t *testing.T) {
	env := newEnv(t)
	var grants []workflows.LeaseGrant
	var refused []string
	renew := func(holder string) func() {
		return func() {
			env.UpdateWorkflow(workflows.LeaseRenew, holder+env.Now().String(), &sdktestsuite.TestUpdateCallback{
				OnAccept: func() {}, OnReject: func(err error) { t.Error(err) },
				OnComplete: func(v any, err error) {
					if err != nil {
						refused = append(refused, holder)
						return
					}
					grants = append(grants, v.(workflows.LeaseGrant))
				},
			}, workflows.LeaseRequest{Holder: holder})
		}
	}
	ask := func(holder string) func() {
		return func() { env.SignalWorkflow(workflows.LeaseAsk, workflows.LeaseRequest{Holder: holder}) }
	}
	env.RegisterDelayedCallback(ask("a"), time.Millisecond)
	env.RegisterDelayedCallback(renew("a"), 10*time.Millisecond)
	env.RegisterDelayedCallback(ask("b"), 20*time.Millisecond)
	env.RegisterDelayedCallback(renew("a"), 30*time.Millisecond)
	env.RegisterDelayedCallback(renew("b"), 40*time.Millisecond)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Second)
	env.ExecuteWorkflow(workflows.PATLeaseV2Workflow, workflows.PATLeaseV2Input{TTL: 10 * time.Second})
	require.Len(t, grants, 2)
	assert.Equal(t, 0, grants[0].Waiting, "nobody waits")
	assert.Equal(t, 1, grants[1].Waiting, "b waits")
	assert.Equal(t, 10*time.Second, grants[1].TTL)
	assert.Equal(t, []string{"b"}, refused, "only the holder renews")
}
