package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

func TestProvisionDeprovisionRoundTrip(t *testing.T) {
	s := startStack(t)
	var prov workflows.ProvisionResult
	require.NoError(t, s.run(t, "rt-provision", workflows.ProvisionWorkflow, map[string]any{"user": "ana@example.com", "role": "Explorer"}, &prov))
	assert.Equal(t, "Explorer", s.fake.Role(faketableau.SandboxSite, "ana@example.com"))
	assert.True(t, prov.Changed)

	var deprov workflows.DeprovisionResult
	require.NoError(t, s.run(t, "rt-deprovision", workflows.DeprovisionWorkflow, map[string]any{"user": "ana@example.com", "role": "Explorer"}, &deprov))
	assert.True(t, deprov.Changed)
	assert.Equal(t, "Unlicensed", s.fake.Role(faketableau.SandboxSite, "ana@example.com"))
	assert.Zero(t, s.fake.Collisions())
}

func TestHealthCheckReport(t *testing.T) {
	s := startStack(t)
	var res workflows.HealthCheckResult
	require.NoError(t, s.run(t, "health", workflows.HealthCheckWorkflow, map[string]any{}, &res))
	assert.True(t, res.OK)
	var msgs []string
	for _, c := range res.Checks {
		msgs = append(msgs, c.Name+": "+c.Message)
	}
	assert.Equal(t, []string{
		"Validate Tableau API Connection: Successfully connected to Tableau API",
		`Check Tableau Session & Site: Successfully accessed Tableau site "sandbox"`,
		"Check Tableau Content Access: Successfully accessed Tableau content",
		"Check Tableau User Management Scope: PAT can list site users (7 total).",
	}, msgs)
}

func TestSignalBurstBeforeAnyWorkerAppliesInArrivalOrder(t *testing.T) {
	fake := startStackWithoutWorker(t)
	ctx := testsuite.Context(t)
	user := "ana@example.com"
	id := workflows.UserAccessWorkflowID(workflows.TaskQueue, user)
	roles := []string{"Viewer", "Creator", "Explorer", "ExplorerCanPublish", "Viewer", "SiteAdministratorExplorer", "Explorer", "Creator", "Viewer", "Explorer"}
	for i, role := range roles {
		ev := workflows.AccessEvent{Op: "grant", Role: role, RequestID: "burst-" + string(rune('a'+i))}
		_, err := fake.client.SignalWithStartWorkflow(ctx, id, workflows.AccessSignal, ev,
			client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue}, workflows.UserAccessWorkflow,
			workflows.UserAccessInput{User: user})
		require.NoError(t, err)
	}
	fake.worker = fake.startWorker(t, fake.fake.PATConfig())
	res := fake.forget(t, id)
	require.Len(t, res.History, len(roles))
	// All ten waited together: an event with a later one for its role is
	// superseded; the others apply, in arrival order, the highest held so far.
	rank := map[string]int{"Viewer": 1, "Explorer": 2, "ExplorerCanPublish": 3, "SiteAdministratorExplorer": 4, "Creator": 5}
	highest := ""
	for i, rec := range res.History {
		assert.Equal(t, "burst-"+string(rune('a'+i)), rec.RequestID, "arrival order")
		if slices.Contains(roles[i+1:], roles[i]) {
			assert.Equal(t, workflows.OutcomeSuperseded, rec.Outcome, rec.RequestID)
			continue
		}
		if rank[roles[i]] > rank[highest] {
			highest = roles[i]
		}
		assert.Equal(t, highest, rec.RoleAfter, "the highest grant held so far")
	}
	assert.Equal(t, "Creator", fake.fake.Role(faketableau.SandboxSite, user))
}

func TestWorkerStoppedMidActivityCompletesOnce(t *testing.T) {
	s := startStack(t)
	inFake := make(chan faketableau.Request, 1)
	s.fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, Latency: time.Minute, Notify: inFake})
	ctx, cancel := context.WithTimeout(testsuite.Context(t), 2*time.Minute)
	defer cancel()
	run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "stop-mid-activity", TaskQueue: workflows.TaskQueue},
		workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ben@example.com", Role: "Creator"})
	require.NoError(t, err)
	select {
	case <-inFake:
	case <-ctx.Done():
		t.Fatal("the update never reached the fake")
	}
	s.worker.Stop() // the update is blocked inside Tableau
	assert.Equal(t, "Viewer", s.fake.Role(faketableau.SandboxSite, "ben@example.com"))
	s.startWorker(t, s.fake.PATConfig())

	var res workflows.ProvisionResult
	require.NoError(t, run.Get(ctx, &res))
	assert.True(t, res.Changed)
	assert.Equal(t, "Creator", s.fake.Role(faketableau.SandboxSite, "ben@example.com"))

	completed := 0
	for _, ev := range fetchHistory(t, s.client, "stop-mid-activity", "").Events {
		if ev.EventType == enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED {
			completed++
		}
	}
	assert.Equal(t, 1, completed)
}

func TestHistoryHoldsNoSecretOrToken(t *testing.T) {
	s := startStack(t)
	var prov workflows.ProvisionResult
	require.NoError(t, s.run(t, "secret-provision", workflows.ProvisionWorkflow, map[string]any{"user": "chloe@example.com", "role": "Creator"}, &prov))
	var health workflows.HealthCheckResult
	require.NoError(t, s.run(t, "secret-health", workflows.HealthCheckWorkflow, map[string]any{}, &health))
	var raw workflows.TableauRequestResult
	require.NoError(t, s.run(t, "secret-request", workflows.TableauRequestWorkflow, map[string]any{"method": "GET", "path": "sessions/current"}, &raw))
	// A failing run too: error messages travel through history.
	bad := s.fake.PATConfig()
	bad.PATSecret = faketableauSecret("wrong-" + faketableau.SandboxAdminSecret)
	s.worker.Stop()
	s.worker = s.startWorker(t, bad)
	var failed workflows.HealthCheckResult
	require.NoError(t, s.run(t, "secret-health-bad", workflows.HealthCheckWorkflow, map[string]any{}, &failed))
	require.False(t, failed.OK)

	var histories strings.Builder
	for _, id := range []string{"secret-provision", "secret-health", "secret-request", "secret-health-bad"} {
		data, err := temporalproto.CustomJSONMarshalOptions{}.Marshal(fetchHistory(t, s.client, id, ""))
		require.NoError(t, err)
		histories.Write(data)
	}
	all := decodedPayloads(histories.String())
	tokens := 0
	for _, r := range s.fake.Requests() {
		if r.Token != "" {
			tokens++
			assert.NotContains(t, all, r.Token, "session token in history")
		}
	}
	require.NotZero(t, tokens)
	assert.NotContains(t, all, faketableau.SandboxAdminSecret)
	assert.Contains(t, all, "Tableau sign-in failed (HTTP 401, Signin Error)", "the failure itself is there, worded for people")
}

// decodedPayloads returns the history JSON with base64 payloads decoded,
// so secrets cannot hide in encoding.
func decodedPayloads(historyJSON string) string {
	var b strings.Builder
	b.WriteString(historyJSON)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, vv := range x {
				if s, ok := vv.(string); ok && k == "data" {
					if d, err := decodeBase64(s); err == nil {
						b.Write(d)
					}
				}
				walk(vv)
			}
		case []any:
			for _, vv := range x {
				walk(vv)
			}
		}
	}
	dec := json.NewDecoder(strings.NewReader(historyJSON))
	for {
		var v any
		if dec.Decode(&v) != nil {
			break
		}
		walk(v)
	}
	return b.String()
}
