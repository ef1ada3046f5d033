package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/mocks"

	"tabflow/workflows"
)

// A holder that cannot renew its lease gives it up (lost closes) before the
// lease could expire in Temporal, so it never outlives it.
func TestLeaseIsGivenUpBeforeItCanExpire(t *testing.T) {
	for name, renew := range map[string]func(context.Context) error{
		"renewals refused": func(context.Context) error { return &leaseGone{errors.New("not the holder")} },
		"Temporal unreachable": func(ctx context.Context) error {
			<-ctx.Done() // hangs until the local deadline
			return ctx.Err()
		},
	} {
		t.Run(name, func(t *testing.T) {
			var released atomic.Bool
			l := &FleetLock{identity: "test", send: func(ctx context.Context, _, op string, _ workflows.LeaseRequest, _ bool) (workflows.LeaseGrant, error) {
				switch op {
				case workflows.LeaseAcquire:
					return workflows.LeaseGrant{TTL: leaseTTL}, nil
				case workflows.LeaseRelease:
					released.Store(true)
					return workflows.LeaseGrant{}, nil
				}
				return workflows.LeaseGrant{}, renew(ctx)
			}}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			start := time.Now()
			lost, release, err := l.Acquire(ctx, "key")
			require.NoError(t, err)
			waitForLoss(ctx, t, lost)
			assert.Less(t, time.Since(start), leaseTTL-leaseMargin/2, "given up with time to sign out before the lease expires")
			release()
			assert.Eventually(t, released.Load, time.Second, 10*time.Millisecond)
		})
	}
}

// A holder whose renewals succeed keeps its lease.
func TestLeaseIsKeptWhileRenewed(t *testing.T) {
	var renewals atomic.Int32
	l := &FleetLock{identity: "test", send: func(_ context.Context, _, op string, _ workflows.LeaseRequest, _ bool) (workflows.LeaseGrant, error) {
		if op == workflows.LeaseRenew {
			renewals.Add(1)
		}
		return workflows.LeaseGrant{TTL: leaseTTL}, nil
	}}
	lost, release, err := l.Acquire(testContext(t), "key")
	require.NoError(t, err)
	defer release()
	select {
	case <-lost:
		t.Fatal("a renewed lease was given up")
	case <-time.After(leaseTTL):
	}
	assert.GreaterOrEqual(t, renewals.Load(), int32(4))
}

// A holder that queued behind another worker keeps its whole lease: the
// deadline counts from the grant (sent + Waited), not from when it asked.
func TestLeaseDeadlineCountsFromTheGrant(t *testing.T) {
	const waited = leaseTTL - leaseMargin // the old deadline had passed by the time of the grant
	l := &FleetLock{identity: "test", send: func(ctx context.Context, _, op string, _ workflows.LeaseRequest, _ bool) (workflows.LeaseGrant, error) {
		switch op {
		case workflows.LeaseAcquire:
			time.Sleep(waited) // queued behind another worker's session
			return workflows.LeaseGrant{TTL: leaseTTL, Waited: waited}, nil
		case workflows.LeaseRenew:
			return workflows.LeaseGrant{TTL: leaseTTL}, nil
		}
		return workflows.LeaseGrant{}, nil
	}}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	lost, release, err := l.Acquire(ctx, "key")
	require.NoError(t, err)
	defer release()
	select {
	case <-lost:
		t.Fatal("a lease granted after a wait was given up at its first renewal")
	case <-time.After(leaseRenewEvery + time.Second):
	}
}

// /readyz is unready until the worker polls, whatever Temporal says.
func TestReadyzIsUnreadyBeforeTheWorkerPolls(t *testing.T) {
	p := &probes{} // no Temporal client: the polling check comes first
	rec := httptest.NewRecorder()
	p.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Contains(t, rec.Body.String(), "not polling")
}

// An acquire that fails (the caller gave up, Temporal unreachable) withdraws
// the request, so the lease never goes to a holder that has left.
func TestFailedAcquireWithdraws(t *testing.T) {
	var ops []string
	l := &FleetLock{identity: "test", send: func(_ context.Context, _, op string, _ workflows.LeaseRequest, _ bool) (workflows.LeaseGrant, error) {
		ops = append(ops, op)
		if op == workflows.LeaseAcquire {
			return workflows.LeaseGrant{}, context.DeadlineExceeded
		}
		return workflows.LeaseGrant{}, nil
	}}
	_, _, err := l.Acquire(testContext(t), "key")
	require.Error(t, err)
	assert.Equal(t, []string{workflows.LeaseAcquire, workflows.LeaseRelease}, ops)
}

// A renewal the lease workflow refuses (the lease expired and went to
// another holder) is a lost lease, not an error to retry.
func TestRefusedRenewalIsALostLease(t *testing.T) {
	c := &mocks.Client{}
	h := &mocks.WorkflowUpdateHandle{}
	h.On("Get", mock.Anything, mock.Anything).Return(errors.New("the lease is not held by test/x (it expired)"))
	c.On("UpdateWorkflow", mock.Anything, mock.Anything).Return(h, nil)
	l := NewFleetLock(c, "test")
	_, err := l.update(testContext(t), "id", workflows.LeaseRenew, workflows.LeaseRequest{Holder: "test/x"}, false)
	var gone *leaseGone
	assert.ErrorAs(t, err, &gone)
	_, err = l.update(testContext(t), "id", workflows.LeaseRelease, workflows.LeaseRequest{Holder: "test/x"}, false)
	assert.False(t, errors.As(err, &gone), "only a refused renewal means the lease is gone")
}

// A worker hands the lease from one of its sessions to the next without a
// Temporal round trip, releases it when no session of its own follows, and
// yields it after its quantum so other workers get their turn.
func TestLeaseIsHandedOverBetweenSessionsOfOneWorker(t *testing.T) {
	var mu sync.Mutex
	var ops []string
	l := &FleetLock{identity: "test", send: func(_ context.Context, _, op string, _ workflows.LeaseRequest, _ bool) (workflows.LeaseGrant, error) {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
		return workflows.LeaseGrant{TTL: leaseTTL}, nil
	}}
	count := func(op string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, o := range ops {
			if o == op {
				n++
			}
		}
		return n
	}
	ctx := testContext(t)
	start := time.Now()
	for range 5 { // back-to-back sessions: one acquire
		_, release, err := l.Acquire(ctx, "key")
		require.NoError(t, err)
		release()
	}
	assert.Equal(t, 1, count(workflows.LeaseAcquire), "handed over, not re-acquired")
	assert.Eventually(t, func() bool { return count(workflows.LeaseRelease) == 1 }, time.Second, 5*time.Millisecond, "released once no session follows")

	// Past the quantum the worker yields even with sessions following.
	_, release, err := l.Acquire(ctx, "key")
	require.NoError(t, err)
	time.Sleep(handOverQuantum)
	release()
	_, release, err = l.Acquire(ctx, "key")
	require.NoError(t, err)
	release()
	assert.Equal(t, 3, count(workflows.LeaseAcquire), "yielded after %s", handOverQuantum)
	assert.Less(t, time.Since(start), handOverQuantum+time.Second)

	// A stopping worker gives a lingering lease back at once.
	before := count(workflows.LeaseRelease)
	_, release, err = l.Acquire(ctx, "key")
	require.NoError(t, err)
	release()
	l.Close()
	assert.Equal(t, before+1, count(workflows.LeaseRelease), "released by Close, not left to linger")
}

// testContext ends with the test, or after a minute: a lease that hangs
// fails its test with a message, not the package with a timeout.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// A lease that was lost is never handed to the worker's next session: that
// session asks the lease workflow again.
func TestLostLeaseIsNotHandedOver(t *testing.T) {
	var acquires atomic.Int32
	l := &FleetLock{identity: "test", send: func(_ context.Context, _, op string, _ workflows.LeaseRequest, _ bool) (workflows.LeaseGrant, error) {
		if op == workflows.LeaseAcquire {
			acquires.Add(1)
		}
		// A TTL inside the safety margin: the first renewal tick finds the lease past its deadline.
		return workflows.LeaseGrant{TTL: leaseMargin / 2}, nil
	}}
	ctx := testContext(t)
	lost, release, err := l.Acquire(ctx, "key")
	require.NoError(t, err)
	waitForLoss(ctx, t, lost)
	release()
	_, release, err = l.Acquire(ctx, "key")
	require.NoError(t, err)
	defer release()
	assert.Equal(t, int32(2), acquires.Load(), "asked again, not handed the lost lease")
}

// waitForLoss waits until the lease is given up, failing the test at ctx's end.
func waitForLoss(ctx context.Context, t *testing.T, lost <-chan struct{}) {
	t.Helper()
	select {
	case <-lost:
	case <-ctx.Done():
		t.Fatal("the lease was never given up")
	}
}
