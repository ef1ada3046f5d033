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
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"tabflow/internal/urgency"
	"tabflow/tableau"
	"tabflow/workflows"
)

// fakeLeases plays a lease workflow: by default it grants at once and
// renews for workflows.LeaseTTL; each test changes what it needs.
type fakeLeases struct {
	mu        sync.Mutex
	ops       []string
	askErr    error
	statusFor func(n int) (workflows.LeaseStatus, error) // n: statuses asked so far
	renewFor  func(ctx context.Context, n int) (workflows.LeaseGrant, error)
	released  chan struct{}
	releasing time.Duration // how long a release takes
	waiting   int           // other holders waiting, as renew and status say
	urgency   int           // the most urgent level among them
	asked     []int         // the urgency of each ask
}

func (f *fakeLeases) record(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
	n := 0
	for _, o := range f.ops {
		if o == op {
			n++
		}
	}
	return n
}

func (f *fakeLeases) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, o := range f.ops {
		if o == op {
			n++
		}
	}
	return n
}

func (f *fakeLeases) ask(_ context.Context, _ string, req workflows.LeaseRequest) error {
	f.record("ask")
	f.mu.Lock()
	f.asked = append(f.asked, req.Urgency)
	f.mu.Unlock()
	return f.askErr
}

func (f *fakeLeases) status(_ context.Context, _, holder string) (workflows.LeaseStatus, error) {
	n := f.record("status")
	if f.statusFor != nil {
		return f.statusFor(n)
	}
	return workflows.LeaseStatus{Holder: holder, Held: true, Position: -1, Waiting: f.waiting, Urgency: f.urgency}, nil
}

func (f *fakeLeases) renew(ctx context.Context, _ string, _ workflows.LeaseRequest) (workflows.LeaseGrant, error) {
	n := f.record("renew")
	if f.renewFor != nil {
		return f.renewFor(ctx, n)
	}
	return workflows.LeaseGrant{TTL: workflows.LeaseTTL, Waiting: f.waiting, Urgency: f.urgency}, nil
}

func (f *fakeLeases) release(context.Context, string, workflows.LeaseRequest) error {
	time.Sleep(f.releasing)
	f.record("release")
	if f.released != nil {
		f.released <- struct{}{}
	}
	return nil
}

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
			f := &fakeLeases{renewFor: func(ctx context.Context, n int) (workflows.LeaseGrant, error) {
				if n == 1 { // the claim
					return workflows.LeaseGrant{TTL: workflows.LeaseTTL}, nil
				}
				return workflows.LeaseGrant{}, renew(ctx)
			}}
			l := &FleetLock{identity: "test", leases: f}
			ctx := testContext(t)
			start := time.Now()
			lost, release, err := l.Acquire(ctx, "key", direct)
			require.NoError(t, err)
			waitForLoss(ctx, t, lost)
			assert.Less(t, time.Since(start), workflows.LeaseTTL-workflows.LeaseMargin/2, "given up with time to sign out before the lease expires")
			release()
			assert.Eventually(t, func() bool { return f.count("release") == 1 }, time.Second, 10*time.Millisecond)
		})
	}
}

// A holder whose renewals succeed keeps its lease.
func TestLeaseIsKeptWhileRenewed(t *testing.T) {
	f := &fakeLeases{}
	lost, release, err := (&FleetLock{identity: "test", leases: f}).Acquire(testContext(t), "key", direct)
	require.NoError(t, err)
	defer release()
	select {
	case <-lost:
		t.Fatal("a renewed lease was given up")
	case <-time.After(workflows.LeaseTTL):
	}
	assert.GreaterOrEqual(t, f.count("renew"), 5, "the claim, then every %s", workflows.LeaseRenewEvery)
}

// A holder that waited longer than a TTL keeps its whole lease: the
// deadline counts from its claim, not from when it asked.
func TestLeaseDeadlineCountsFromTheClaim(t *testing.T) {
	waitUntil := time.Now().Add(workflows.LeaseTTL - workflows.LeaseMargin) // the lease would be past its margin if it counted from the ask
	f := &fakeLeases{statusFor: func(int) (workflows.LeaseStatus, error) {
		if time.Now().Before(waitUntil) {
			return workflows.LeaseStatus{Holder: "other", Position: 0}, nil
		}
		return workflows.LeaseStatus{Held: true, Position: -1}, nil
	}}
	lost, release, err := (&FleetLock{identity: "test", leases: f}).Acquire(testContext(t), "key", direct)
	require.NoError(t, err)
	defer release()
	select {
	case <-lost:
		t.Fatal("a lease granted after a wait was given up at its first renewal")
	case <-time.After(workflows.LeaseRenewEvery + time.Second):
	}
}

// A waiter polls the next in line often and the others rarely, asks again
// every LeaseAskEvery so it is not dropped, and at once when it was.
func TestAWaiterStaysQueued(t *testing.T) {
	start := time.Now()
	f := &fakeLeases{statusFor: func(n int) (workflows.LeaseStatus, error) {
		switch {
		case n <= 10: // ~2.5 s, polled rarely
			return workflows.LeaseStatus{Holder: "other", Position: 1}, nil
		case n < 80: // not listed for ~1.4 s: dropped (its asks were lost) once its last ask had time to land
			return workflows.LeaseStatus{Holder: "other", Position: -1}, nil
		case n < 100: // next in line
			return workflows.LeaseStatus{Holder: "other", Position: 0}, nil
		}
		return workflows.LeaseStatus{Held: true, Position: -1}, nil
	}}
	_, release, err := (&FleetLock{identity: "test", leases: f}).Acquire(testContext(t), "key", direct)
	require.NoError(t, err)
	release()
	assert.Equal(t, 3, f.count("ask"), "the first ask, again after %s, and again once dropped (not while an ask is landing)", workflows.LeaseAskEvery)
	assert.Less(t, time.Since(start), 6*time.Second, "the next in line polls every %s", leasePollNext)
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
// the request, so the lease is never offered to a holder that has left, and
// says what went wrong.
func TestFailedAcquireWithdraws(t *testing.T) {
	f := &fakeLeases{askErr: errors.New("PAT lease ask: connection refused")}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, _, err := (&FleetLock{identity: "test", leases: f}).Acquire(ctx, "key", direct)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Equal(t, 1, f.count("release"), "withdrawn")
	assert.Zero(t, f.count("status"), "no status asked before an ask got through")
}

// A renewal the lease workflow refuses (the lease expired and went to
// another holder) is a lost lease; Temporal unreachable is not.
func TestRefusedRenewalIsALostLease(t *testing.T) {
	c := &mocks.Client{}
	h := &mocks.WorkflowUpdateHandle{}
	h.On("Get", mock.Anything, mock.Anything).Return(errors.New("the lease is not held by test/x (it expired)"))
	c.On("UpdateWorkflow", mock.Anything, mock.MatchedBy(func(o client.UpdateWorkflowOptions) bool { return o.WorkflowID == "refused" })).Return(h, nil)
	c.On("UpdateWorkflow", mock.Anything, mock.Anything).Return(nil, errors.New("connection refused"))
	leases := temporalLeases{c}
	_, err := leases.renew(testContext(t), "refused", workflows.LeaseRequest{Holder: "test/x"})
	var gone *leaseGone
	assert.ErrorAs(t, err, &gone)
	_, err = leases.renew(testContext(t), "unreachable", workflows.LeaseRequest{Holder: "test/x"})
	require.Error(t, err)
	assert.False(t, errors.As(err, &gone), "only a refused renewal means the lease is gone")
}

// A worker hands the lease from one of its sessions to the next without a
// Temporal round trip, releases it when no session of its own follows, and
// yields it after its quantum so other workers get their turn.
func TestLeaseIsHandedOverBetweenSessionsOfOneWorker(t *testing.T) {
	f := &fakeLeases{}
	l := &FleetLock{identity: "test", leases: f, linger: 500 * time.Millisecond}
	ctx := testContext(t)
	for range 5 { // back-to-back sessions: one acquire
		_, release, err := l.Acquire(ctx, "key", direct)
		require.NoError(t, err)
		release()
	}
	assert.Equal(t, 1, f.count("ask"), "handed over, not re-acquired")
	assert.Eventually(t, func() bool { return f.count("release") == 1 }, 2*time.Second, 5*time.Millisecond, "released once no session follows")

	// Past the quantum, with nobody else waiting, it keeps handing it over.
	_, release, err := l.Acquire(ctx, "key", direct)
	require.NoError(t, err)
	time.Sleep(handOverQuantum)
	release()
	_, release, err = l.Acquire(ctx, "key", direct)
	require.NoError(t, err)
	release()
	assert.Equal(t, 2, f.count("ask"), "kept past its quantum: nobody else waits")

	// With others waiting, past the quantum the worker yields even with sessions following.
	f.waiting = 1
	_, release, err = l.Acquire(ctx, "key", direct)
	require.NoError(t, err)
	time.Sleep(handOverQuantum + workflows.LeaseRenewEvery) // a renewal tells it others wait
	release()
	_, release, err = l.Acquire(ctx, "key", direct)
	require.NoError(t, err)
	release()
	assert.Equal(t, 3, f.count("ask"), "yielded after %s", handOverQuantum)
}

// A stopping worker releases every lease before Close returns: one that
// lingers for a next session, and one already being released.
func TestCloseReleasesEveryLease(t *testing.T) {
	f := &fakeLeases{releasing: 200 * time.Millisecond, waiting: 1}
	l := &FleetLock{identity: "test", leases: f}
	ctx := testContext(t)
	_, release, err := l.Acquire(ctx, "lingers", direct)
	require.NoError(t, err)
	release()
	_, release, err = l.Acquire(ctx, "yields", direct)
	require.NoError(t, err)
	time.Sleep(handOverQuantum) // past its quantum: released in the background
	release()
	l.Close()
	assert.Equal(t, 2, f.count("release"), "both released by the time Close returned")
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
	// A TTL inside the safety margin: the first renewal tick finds the lease past its deadline.
	f := &fakeLeases{renewFor: func(context.Context, int) (workflows.LeaseGrant, error) {
		return workflows.LeaseGrant{TTL: workflows.LeaseMargin / 2}, nil
	}}
	l := &FleetLock{identity: "test", leases: f}
	ctx := testContext(t)
	lost, release, err := l.Acquire(ctx, "key", direct)
	require.NoError(t, err)
	waitForLoss(ctx, t, lost)
	release()
	_, release, err = l.Acquire(ctx, "key", direct)
	require.NoError(t, err)
	defer release()
	assert.Equal(t, 2, f.count("ask"), "asked again, not handed the lost lease")
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

// direct is a direct Provision's session with nothing waiting behind it.
var direct = behind(urgency.Direct, 0)

// behind is a session of level own with sessions waiting behind it in this
// worker, the most urgent at level waiting (0: none).
func behind(own, waiting int) tableau.SessionUrgency {
	return tableau.SessionUrgency{Own: own, Behind: func() int { return waiting }}
}

// A session's end yields the lease at once, past no quantum, when another
// worker waits at a more urgent level than any session waiting here (a
// revoke behind another worker's bulk), or when none waits here at all.
func TestLeaseYieldsAtOnceToAMoreUrgentWorker(t *testing.T) {
	for _, c := range []struct {
		name         string
		others, here int
		yields       bool
	}{
		{"a revoke waits elsewhere, a provision here", urgency.Revoke, urgency.Direct, true},
		{"a listing waits elsewhere, nothing here", urgency.Read, 0, true},
		{"as urgent elsewhere as here: the quantum decides", urgency.Direct, urgency.Direct, false},
		{"less urgent elsewhere", urgency.Read, urgency.Revoke, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeLeases{waiting: 1, urgency: c.others}
			l := &FleetLock{identity: "test", leases: f, linger: 500 * time.Millisecond}
			ctx := testContext(t)
			_, release, err := l.Acquire(ctx, "key", behind(urgency.Direct, c.here))
			require.NoError(t, err)
			release()
			_, release, err = l.Acquire(ctx, "key", behind(urgency.Direct, c.here))
			require.NoError(t, err)
			release()
			if c.yields {
				assert.Equal(t, 2, f.count("ask"), "yielded at the session's end, and asked again")
			} else {
				assert.Equal(t, 1, f.count("ask"), "handed over to this worker's next session")
			}
		})
	}
}

// A waiting worker asks again at once when a more urgent session queues
// behind the one waiting, not at its next ask two seconds on.
func TestLeaseIsAskedAgainWhenAMoreUrgentSessionQueues(t *testing.T) {
	f := &fakeLeases{statusFor: func(int) (workflows.LeaseStatus, error) { return workflows.LeaseStatus{Position: 1}, nil }}
	l := &FleetLock{identity: "test", leases: f}
	var waiting atomic.Int32
	u := tableau.SessionUrgency{Own: urgency.Direct, Behind: func() int { return int(waiting.Load()) }}
	ctx, cancel := context.WithTimeout(testContext(t), workflows.LeaseAskEvery-200*time.Millisecond)
	defer cancel()
	go func() {
		time.Sleep(300 * time.Millisecond)
		waiting.Store(urgency.Revoke)
	}()
	_, _, err := l.Acquire(ctx, "key", u)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	f.mu.Lock()
	defer f.mu.Unlock()
	assert.Equal(t, []int{urgency.Direct, urgency.Revoke}, f.asked, "asked at its own level, then at the revoke's as soon as it queued")
}
