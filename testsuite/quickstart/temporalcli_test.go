package quickstart

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
)

// temporalCLI makes the call a page's `temporal` command makes, through the
// SDK, and prints the answer as the pages show the CLI 1.5 printing it (-o
// json: indented, the answer's keys sorted, an update's answer under
// updateResult after the workflow's ID; text: "QueryResult  " and compact
// JSON). What is checked is the answer, not the CLI's own printing: the CLI
// is not in CI, as it links a Temporal server of its own (ten more minutes
// on a cold machine). Each flag a page uses must be one this knows, so a page cannot
// show a flag nobody checked.
func (q *quickStart) temporalCLI(words []string) string {
	t := q.t
	var path []string
	for len(words) > 0 && !strings.HasPrefix(words[0], "-") {
		path, words = append(path, words[0]), words[1:]
	}
	flags := map[string]string{}
	for ; len(words) > 0; words = words[2:] {
		require.GreaterOrEqual(t, len(words), 2, "temporal %s: flag %s without a value", strings.Join(path, " "), words[0])
		name := strings.TrimLeft(words[0], "-")
		if name == "o" {
			name = "output"
		}
		flags[name] = words[1]
	}
	command := strings.Join(path, " ")
	known := map[string][]string{
		"workflow execute":                   {"type", "task-queue", "workflow-id", "input", "output"},
		"workflow execute-update-with-start": {"update-name", "update-input", "workflow-id", "type", "task-queue", "id-conflict-policy", "input", "output"},
		"workflow signal-with-start":         {"type", "task-queue", "workflow-id", "input", "signal-name", "signal-input", "output"},
		"workflow query":                     {"workflow-id", "type", "output"},
	}
	names, ok := known[command]
	require.True(t, ok, "temporal %s: not a command this test knows", command)
	for name := range flags {
		require.True(t, slices.Contains(names, name), "temporal %s --%s: not a flag this test knows", command, name)
	}

	c, err := client.Dial(client.Options{HostPort: q.temporal()})
	require.NoError(t, err)
	defer c.Close()
	ctx := testsuite.Context(t)
	start := client.StartWorkflowOptions{ID: flags["workflow-id"], TaskQueue: flags["task-queue"]}
	input := json.RawMessage(flags["input"])
	var answer any
	switch command {
	case "workflow execute":
		run, err := c.ExecuteWorkflow(ctx, start, flags["type"], input)
		require.NoError(t, err)
		require.NoError(t, run.Get(ctx, &answer), "temporal %s", command)
	case "workflow execute-update-with-start":
		require.Equal(t, "UseExisting", flags["id-conflict-policy"], "the only policy an entity's page should show")
		start.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
		h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: c.NewWithStartWorkflowOperation(start, flags["type"], input),
			UpdateOptions: client.UpdateWorkflowOptions{UpdateName: flags["update-name"], WaitForStage: client.WorkflowUpdateStageCompleted,
				Args: []any{json.RawMessage(flags["update-input"])}},
		})
		require.NoError(t, err)
		var result any
		require.NoError(t, h.Get(ctx, &result), "temporal %s", command)
		answer = struct {
			WorkflowID   string `json:"workflowId"`
			RunID        string `json:"runId"`
			UpdateName   string `json:"updateName"`
			UpdateResult any    `json:"updateResult"`
		}{flags["workflow-id"], h.RunID(), flags["update-name"], result}
	case "workflow signal-with-start":
		_, err := c.SignalWithStartWorkflow(ctx, flags["workflow-id"], flags["signal-name"], json.RawMessage(flags["signal-input"]), start, flags["type"], input)
		require.NoError(t, err)
		return ""
	case "workflow query":
		v, err := c.QueryWorkflow(ctx, flags["workflow-id"], "", flags["type"])
		require.NoError(t, err)
		require.NoError(t, v.Get(&answer))
		if flags["output"] != "json" {
			compact, err := json.Marshal(answer)
			require.NoError(t, err)
			return fmt.Sprintf("QueryResult  %s\n", compact)
		}
	}
	out, err := json.MarshalIndent(answer, "", "  ")
	require.NoError(t, err)
	return string(out) + "\n"
}
