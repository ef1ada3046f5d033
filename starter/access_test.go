package main

import (
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
