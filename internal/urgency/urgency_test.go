package urgency

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestOfAndEffective(t *testing.T) {
	for _, c := range []struct {
		key, want int
	}{{0, Direct}, {-1, Direct}, {6, Direct}, {1, Revoke}, {5, Read}} {
		assert.Equal(t, c.want, Of(c.key), "PriorityKey %d", c.key)
	}
	for _, c := range []struct {
		level  int
		waited time.Duration
		want   int
	}{
		{Read, 0, Read},
		{Read, AgingStep - time.Millisecond, Read},
		{Read, AgingStep, ReconcileApply},
		{Read, 4 * AgingStep, Revoke},
		{Read, time.Hour, Revoke},
		{Revoke, time.Hour, Revoke},
		{Grant, AgingStep, Revoke},
	} {
		assert.Equal(t, c.want, Effective(c.level, c.waited), "level %d after %s", c.level, c.waited)
	}
}
