package app

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/sdk/temporal"
)

// A failed workflow's log line says what kind of failure, never its words.
func TestFailureKindNamesTheTypeNotTheMessage(t *testing.T) {
	for want, err := range map[string]error{
		"TableauUserNotFound": temporal.NewNonRetryableApplicationError(`Tableau user "ana@example.com" was not found`, "TableauUserNotFound", nil),
		"canceled":            temporal.NewCanceledError(),
		"error (see the workflow's failure in Temporal)": errors.New("ana@example.com"),
	} {
		got := failureKind(err)
		assert.Equal(t, want, got)
		assert.NotContains(t, got, "@")
	}
}
