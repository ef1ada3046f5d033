package tableau_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/tableau"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
)

// busyFleet holds the lease of every PAT named busy for another worker.
type busyFleet struct{ busy string }

func (f busyFleet) Acquire(ctx context.Context, key string, _ tableau.SessionUrgency) (<-chan struct{}, func(), error) {
	if strings.HasSuffix(key, "/"+f.busy) {
		<-ctx.Done() // another worker's long session
		return nil, nil, ctx.Err()
	}
	return make(chan struct{}), func() {}, nil
}

// A session of a pool takes a PAT that is free across the fleet, rather than
// waiting on one that is free in this worker but busy in another.
func TestPoolSessionTakesAPATFreeAcrossTheFleet(t *testing.T) {
	fake := testsuite.StartTableau(t)
	cfg := fake.PoolConfig()
	for range 4 { // whichever PAT the rotation starts at
		c := fake.Client(t, cfg, tableau.WithFleetLock(busyFleet{busy: cfg.PATName}))
		start := time.Now()
		var used string
		require.NoError(t, c.WithSession(testsuite.Context(t), 0, func(_ context.Context, s *tableau.Session) error {
			used = s.PATName
			return nil
		}))
		assert.Equal(t, testsuite.SecondPAT, used)
		assert.Less(t, time.Since(start), 2*time.Second, "not stuck behind the busy PAT's lease")
	}
}

// A pool of PATs runs a session per PAT at once, and still never two
// sessions of one PAT.
func TestPATPoolRunsSessionsInParallel(t *testing.T) {
	fake := testsuite.StartTableau(t)
	cfg := fake.PoolConfig()
	fake.SetLatency(20 * time.Millisecond)
	c := fake.Client(t, cfg)
	var wg sync.WaitGroup
	used := sync.Map{}
	for range 20 {
		wg.Go(func() {
			assert.NoError(t, c.WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
				used.Store(s.PATName, true)
				_, err := s.FindUserByName(ctx, "ben@example.com")
				return err
			}))
		})
	}
	wg.Wait()
	assert.Zero(t, fake.Collisions(), "never two live sessions of one PAT")
	assert.Equal(t, 2, fake.PeakConcurrency(), "one session per PAT at a time")
	for _, name := range []string{faketableau.SandboxAdminPAT, testsuite.SecondPAT} {
		_, ok := used.Load(name)
		assert.True(t, ok, "PAT %s was used", name)
	}
}

// A revoked PAT of the pool is left out, and the session goes on with
// another: one revoked token does not fail access decisions.
func TestPATPoolLeavesARevokedPATOut(t *testing.T) {
	fake := testsuite.StartTableau(t)
	cfg := fake.PoolConfig()
	fake.RevokePAT(testsuite.SecondPAT)
	c := fake.Client(t, cfg)
	for range 4 {
		require.NoError(t, c.WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
			assert.Equal(t, faketableau.SandboxAdminPAT, s.PATName)
			return nil
		}))
	}
	rejected := 0
	for _, r := range fake.Requests() {
		if r.Endpoint == "signin" && r.Status == 401 {
			rejected++
		}
	}
	assert.Equal(t, 1, rejected, "tried once, then left out")
	err := c.WithPATSession(testsuite.Context(t), 1, 0, func(context.Context, *tableau.Session) error { return nil })
	assert.True(t, tableau.IsSignInRejected(err), "the health check still tries it: %v", err)
}

// stubLease is a FleetLock that loses its lease after lose.
type stubLease struct {
	lose     time.Duration
	acquired []string
	released int
}

func (l *stubLease) Acquire(_ context.Context, key string, _ tableau.SessionUrgency) (<-chan struct{}, func(), error) {
	l.acquired = append(l.acquired, key)
	lost := make(chan struct{})
	time.AfterFunc(l.lose, func() { close(lost) })
	return lost, func() { l.released++ }, nil
}

// A session whose fleet lease is lost abandons its call and signs out, and
// the lease is released only after the sign-out.
func TestLostLeaseAbandonsTheCallAndSignsOut(t *testing.T) {
	fake := testsuite.StartTableau(t)
	lease := &stubLease{lose: 200 * time.Millisecond}
	c := fake.Client(t, fake.PATConfig(), tableau.WithFleetLock(lease))
	fake.Inject(faketableau.Fault{PathContains: "sessions/current", Latency: 5 * time.Second})
	start := time.Now()
	err := c.WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
		_, err := s.CurrentSession(ctx)
		return err
	})
	require.Error(t, err, "the call was abandoned")
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, 1, fake.Count("signout"), "and the session signed out")
	assert.Zero(t, fake.LiveSessions())
	assert.Equal(t, []string{fake.Host + "/sandbox/" + faketableau.SandboxAdminPAT}, lease.acquired)
	assert.Equal(t, 1, lease.released)
}
