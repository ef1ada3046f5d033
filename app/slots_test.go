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

// permitInfo is a permit's mark-used or release, as the SDK reports it.
type permitInfo struct {
	worker.SlotReleaseInfo // not called: Reason is the SDK's own type
	permit                 *worker.SlotPermit
}

func (p permitInfo) Permit() *worker.SlotPermit { return p.permit }

// The worker polls for an activity only while fewer sessions wait for a PAT,
// or are being polled for, than it has PATs; and polls again as soon as a
// session is served or a poll comes back empty.
func TestActivitySlotsWaitForTheSessions(t *testing.T) {
	f := &fakeWaiting{fewer: make(chan struct{})}
	slots := &sessionSlots{lookahead: 2, waiting: f.waiting}
	first := slots.TryReserveSlot(issued(0))
	second := slots.TryReserveSlot(issued(1))
	require.NotNil(t, first, "nobody waits")
	require.NotNil(t, second, "one poll out, two PATs")
	assert.Nil(t, slots.TryReserveSlot(issued(2)), "two polls out: a third task would wait in the worker, not in Temporal")
	slots.ReleaseSlot(permitInfo{permit: second}) // that poll came back empty
	third := slots.TryReserveSlot(issued(1))
	require.NotNil(t, third, "an empty poll frees its place")

	slots.MarkSlotUsed(permitInfo{permit: first}) // its task now waits as a session
	f.set(1)
	assert.Nil(t, slots.TryReserveSlot(issued(2)), "one session waits and one poll is out")
	slots.MarkSlotUsed(permitInfo{permit: third})
	f.set(2)
	assert.Nil(t, slots.TryReserveSlot(issued(2)), "as many wait as there are PATs: the rest stays in Temporal")
	slots.ReleaseSlot(permitInfo{permit: first}) // a used slot's release is not a poll's
	assert.Nil(t, slots.TryReserveSlot(issued(1)))

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
		slots.ReleaseSlot(permitInfo{permit: p})
	case <-time.After(time.Second):
		t.Fatal("no slot once a session was served")
	}
	f.set(0)
	assert.Nil(t, slots.TryReserveSlot(issued(maxActivitySlots)), "never more than the SDK's ceiling")
	assert.NotNil(t, slots.TryReserveSlot(issued(0)))

	short, stop := context.WithCancel(ctx)
	stop()
	f.set(2)
	_, err := slots.ReserveSlot(short, issued(0))
	assert.ErrorIs(t, err, context.Canceled, "a worker that stops stops waiting")
}
