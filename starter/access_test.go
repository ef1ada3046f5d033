package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"tabflow/workflows"
)

// One role held for two reasons reads as one line, with both.
func TestGrantLinesSayEachRoleOnce(t *testing.T) {
	until := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	got := grantLines([]workflows.Grant{
		{Role: "Viewer"},
		{Role: "Viewer", Source: workflows.SourceTableau},
		{Role: "Creator", ExpiresAt: &until, RequestID: "r-17"},
	})
	assert.Equal(t, []string{
		"Viewer until revoked, and given in Tableau (kept: a grant never lowers it)",
		"Creator until 2026-12-03T18:00:00Z",
	}, got)
}

// The warnings of a revoke and of a reconcile demotion are printed where
// the admin reads the entity, under their record.
func TestShowEntityPrintsEachRecordsWarnings(t *testing.T) {
	var out strings.Builder
	group := `group "Sales (AD)" licenses its members as Explorer at sign-in: the user may get Explorer back`
	showEntity(&out, entityView{WorkflowID: "tableau-access/tableau/chloe@example.com", History: []workflows.AccessRecord{
		{Seq: 1, Op: workflows.OpRevoke, Role: "Explorer", Outcome: workflows.OutcomeApplied, Message: "site role Explorer → Unlicensed", Warnings: []string{group}},
		{Seq: 2, Op: workflows.OpReconcile, Role: "Viewer", Outcome: workflows.OutcomeApplied, Message: "site role Explorer → Viewer", Warnings: []string{"drift: " + group}},
	}})
	assert.Equal(t, 2, strings.Count(out.String(), "warning: "), out.String())
	assert.Contains(t, out.String(), "warning: "+group)
	assert.Contains(t, out.String(), "warning: drift: "+group)
}

// A plan prints each change's warnings under the table, in the output the
// admin applies or approves from.
func TestShowPlanPrintsTheChangesWarnings(t *testing.T) {
	var out strings.Builder
	showPlan(&out, workflows.ReconcilePlan{PlanID: "p1", Message: "1 user drifted", Changes: []workflows.DriftChange{
		{User: "ana@example.com", Expected: "Explorer", Actual: "Creator", Warnings: []string{`group "Sales (AD)" licenses its members as Creator at sign-in`}},
	}})
	assert.Contains(t, out.String(), `warning for ana@example.com: group "Sales (AD)" licenses its members as Creator at sign-in`)
}
