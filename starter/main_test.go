package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Every way the SDK can say "--timeout ran out" is exit code 3, even before
// the command's own context reports it.
func TestGaveUpRecognisesEveryTimeout(t *testing.T) {
	live := context.Background()
	for name, err := range map[string]error{
		"wrapped deadline":           fmt.Errorf("polling: %w", context.DeadlineExceeded),
		"cancelled stream":           fmt.Errorf("stream: %w", context.Canceled),
		"server DeadlineExceeded":    serviceerror.NewDeadlineExceeded("context deadline exceeded"),
		"server Canceled":            serviceerror.NewCanceled("canceled"),
		"gRPC status DeadlineExceed": status.Error(codes.DeadlineExceeded, "deadline"),
		"gRPC status Canceled":       status.Error(codes.Canceled, "canceled"),
	} {
		assert.True(t, gaveUp(live, err), name)
	}
	done, cancel := context.WithCancel(live)
	cancel()
	assert.True(t, gaveUp(done, errors.New("anything")), "the command's context ended")
	assert.False(t, gaveUp(live, errors.New("workflow failed: user not found")))
	assert.False(t, gaveUp(live, status.Error(codes.Unavailable, "down")))
}
