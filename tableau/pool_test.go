package tableau_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/tableau"
	"tabflow/testsuite"
)

// busyFleet holds the lease of every PAT named busy for another worker.
type busyFleet struct{ busy string }

func (f busyFleet) Acquire(ctx context.Context, key string) (<-chan struct{}, func(), error) {
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
