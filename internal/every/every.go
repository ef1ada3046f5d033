// Package every runs work at a steady beat in the background: activity
// heartbeats, lease renewals, progress lines.
package every

import (
	"context"
	"sync"
	"time"
)

// Tick calls fn every period, from a goroutine of its own, until stop is
// called, ctx ends or fn returns false. Stop waits for a call in progress,
// so fn is never called once stop has returned; it may be called again.
func Tick(ctx context.Context, period time.Duration, fn func() bool) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// select picks at random among ready cases: look again, so no
			// call starts after stop or the context's end.
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			default:
			}
			if !fn() {
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-ended
	}
}
