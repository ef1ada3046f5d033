package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"tabflow/workflows"
)

// A Reconcile's one line in the UI names its mode.
func TestReconcileSummaryNamesTheMode(t *testing.T) {
	five := 5
	for want, in := range map[string]workflows.ReconcileInput{
		"Reconcile, plan only: changes nothing":                       {Mode: workflows.ReconcilePlanOnly},
		"Reconcile, auto: applies at once if at most 5 users drifted": {Mode: workflows.ReconcileAuto, MaxChanges: &five},
		"Reconcile, approve: a plan that waits 24h0m0s for approval":  {Mode: workflows.ReconcileApprove, ApproveWithin: "24h0m0s"},
	} {
		assert.Equal(t, want, summary(workflows.ReconcileWorkflow, in))
	}
}
