package every_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"tabflow/internal/every"
)

// waitFor waits until n calls have been counted.
func waitFor(t *testing.T, calls *atomic.Int32, n int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls in 10 s", calls.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTickUntilStopped(t *testing.T) {
	var calls atomic.Int32
	stop := every.Tick(context.Background(), time.Millisecond, func() bool { calls.Add(1); return true })
	waitFor(t, &calls, 3)
	stop()
	after := calls.Load()
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, after, calls.Load(), "no call once stop has returned")
	stop() // a second stop is harmless
}

func TestTickEndsWhenFnSaysSo(t *testing.T) {
	var calls atomic.Int32
	stop := every.Tick(context.Background(), time.Millisecond, func() bool { return calls.Add(1) < 2 })
	waitFor(t, &calls, 2)
	time.Sleep(20 * time.Millisecond)
	stop()
	assert.Equal(t, int32(2), calls.Load(), "fn returned false on its second call")
}

func TestTickEndsWithItsContext(t *testing.T) {
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	inFirst, release := make(chan struct{}), make(chan struct{})
	stop := every.Tick(ctx, time.Millisecond, func() bool {
		if calls.Add(1) == 1 {
			close(inFirst)
			<-release
		}
		return true
	})
	<-inFirst
	cancel() // while the first call runs: the ticker has fired again meanwhile
	close(release)
	time.Sleep(20 * time.Millisecond)
	stop()
	assert.Equal(t, int32(1), calls.Load(), "no call after the context ended")
}
