package app

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
)

// fakeWaiting plays the sessions waiting for a PAT.
type fakeWaiting struct {
	mu    sync.Mutex
	n     int
	fewer chan struct{}
}

func (f *fakeWaiting) waiting() (int, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.fewer
}

func (f *fakeWaiting) set(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n = n
	close(f.fewer)
	f.fewer = make(chan struct{})
}

// issued is a reservation with this many slots already issued.
type issued int

func (i issued) NumIssuedSlots() int                 { return int(i) }
func (issued) TaskQueue() string                     { return "tableau" }
func (issued) TaskQueueKind() enumspb.TaskQueueKind  { return enumspb.TASK_QUEUE_KIND_NORMAL }
func (issued) WorkerBuildId() string                 { return "" }
func (issued) WorkerIdentity() string                { return "" }
func (issued) Logger() log.Logger                    { return nil }
func (issued) MetricsHandler() client.MetricsHandler { return nil }

// The worker polls for an activity only while fewer sessions wait for a PAT
// than it has PATs, and polls again as soon as one is served.
func TestActivitySlotsWaitForTheSessions(t *testing.T) {
	f := &fakeWaiting{fewer: make(chan struct{})}
	slots := &sessionSlots{lookahead: 2, waiting: f.waiting}
	assert.NotNil(t, slots.TryReserveSlot(issued(0)), "nobody waits")
	f.set(1)
	assert.NotNil(t, slots.TryReserveSlot(issued(1)), "one waits, two PATs")
	f.set(2)
	assert.Nil(t, slots.TryReserveSlot(issued(2)), "as many wait as there are PATs: the rest stays in Temporal")
	assert.Nil(t, slots.TryReserveSlot(issued(maxActivitySlots)))

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	got := make(chan *worker.SlotPermit, 1)
	go func() {
		p, err := slots.ReserveSlot(ctx, issued(2))
		assert.NoError(t, err)
		got <- p
	}()
	select {
	case <-got:
		t.Fatal("a slot was given while two sessions wait")
	case <-time.After(3 * recheck):
	}
	f.set(1)
	select {
	case p := <-got:
		require.NotNil(t, p)
	case <-time.After(time.Second):
		t.Fatal("no slot once a session was served")
	}

	short, stop := context.WithCancel(ctx)
	stop()
	f.set(2)
	_, err := slots.ReserveSlot(short, issued(0))
	assert.ErrorIs(t, err, context.Canceled, "a worker that stops stops waiting")
}
