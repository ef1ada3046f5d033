package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"
)

func TestIsEntityBusy(t *testing.T) {
	for _, c := range []struct {
		err  error
		busy bool
	}{
		{serviceerror.NewResourceExhausted(0, "limit on number of concurrent in-flight updates has been reached"), true},
		{temporal.NewNonRetryableApplicationError(EntityContinuingAsNew+": this run is continuing as new", "InvalidInput", nil), true},
		{temporal.NewNonRetryableApplicationError("invalid access event: role \"Boss\" is not a site role", "InvalidInput", nil), false},
		{errors.New("connection refused"), false},
		{nil, false},
	} {
		assert.Equal(t, c.busy, IsEntityBusy(c.err), "%v", c.err)
	}
}

func TestWhenNotBusySendsAgainUntilTaken(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	calls := 0
	rec, err := whenNotBusy(ctx, func() (AccessRecord, error) {
		calls++
		if calls < 3 {
			return AccessRecord{}, serviceerror.NewResourceExhausted(0, "busy")
		}
		return AccessRecord{Outcome: OutcomeApplied}, nil
	})
	assert.NoError(t, err)
	assert.Equal(t, OutcomeApplied, rec.Outcome)
	assert.Equal(t, 3, calls)

	calls = 0
	_, err = whenNotBusy(ctx, func() (AccessRecord, error) { calls++; return AccessRecord{}, errors.New("refused") })
	assert.EqualError(t, err, "refused")
	assert.Equal(t, 1, calls, "a refusal is not sent again")

	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	_, err = whenNotBusy(short, func() (AccessRecord, error) { return AccessRecord{}, serviceerror.NewResourceExhausted(0, "busy") })
	assert.ErrorIs(t, err, context.DeadlineExceeded, "gives up when the caller does")
}
