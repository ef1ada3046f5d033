package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A typo is refused with exit code 2, naming the field, before starter
// dials Temporal: no workflow is started (here no Temporal listens, so a
// command that tried to start one would exit 1 instead).
func TestTyposExitTwoWithNothingStarted(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1") // nothing there
	cases := []struct {
		args []string
		says string
	}{
		{[]string{"provision", "--user", "ana@example.com", "--role", "explorer"}, `role "explorer"`},
		{[]string{"provision", "--role", "Explorer"}, "user is required"},
		{[]string{"provision", "--user", "ana@example.com", "--role", "Unlicensed"}, "role"},
		{[]string{"deprovision", "--user", " ana@example.com", "--role", "Explorer"}, "user"},
		{[]string{"deprovision", "--user", "ana@example.com", "--role", "Boss"}, `role "Boss"`},
		{[]string{"users", "set-role", "--user", "ana@example.com", "--role", "viewer"}, `role "viewer"`},
		{[]string{"reconcile", "--apply", "--max-changes", "-1"}, "maxChanges must not be negative"},
		{[]string{"reconcile", "--inactive-days", "-3"}, "inactiveDays must not be negative"},
		{[]string{"reconcile", "--approve", "--inactive-days", "-3"}, "inactiveDays must not be negative"},
		{[]string{"reconcile", "schedule", "--every", "1h", "--inactive-days", "-1"}, "inactiveDays must not be negative"},
		{[]string{"users", "get", "--user", "ana@example.com "}, "must not start or end with spaces"},
		{[]string{"request", "--method", "FETCH", "--path", "sites/{site-id}/users"}, `method "FETCH" must be one of`},
		{[]string{"request", "--method", "POST", "--path", "auth/signin"}, "path"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(t.Context(), c.args, strings.NewReader(""), &out, &errOut)
			assert.Equal(t, exitUsage, code, "stderr: %s", errOut.String())
			assert.Contains(t, errOut.String(), c.says)
			assert.Contains(t, errOut.String(), "nothing was started")
			assert.NotContains(t, errOut.String(), "could not connect", "refused before dialling Temporal")
		})
	}
}
