package workflows_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
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
