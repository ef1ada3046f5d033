package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

type result struct {
	stdout, stderr string
	code           int
}

// temporalEnv points a process at the test server.
func (s *stack) temporalEnv() []string {
	return []string{"TEMPORAL_ADDRESS=" + s.server.GetFrontendHostPort(), "TEMPORAL_NAMESPACE=" + s.server.GetDefaultNamespace()}
}

func runCmd(t *testing.T, env []string, stdin string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(testsuite.Context(t), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{out.String(), errOut.String(), code}
}

func (s *stack) starter(t *testing.T, args ...string) result {
	return runCmd(t, s.temporalEnv(), "", bin.starter, args...)
}

func TestStarterCommands(t *testing.T) {
	s := startStack(t)

	r := s.starter(t, "provision", "--user", "ana@example.com", "--role", "Explorer")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "ana@example.com: site role Unlicensed → Explorer\n", r.stdout)

	r = s.starter(t, "provision", "--user", "ana@example.com", "--role", "Explorer", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var prov workflows.ProvisionResult
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &prov))
	assert.False(t, prov.Changed)
	assert.Equal(t, "Explorer", prov.PreviousRole)

	r = s.starter(t, "provision", "--user", "ana@example.com", "--role", "explorer")
	assert.Equal(t, 2, r.code, "a typo starts nothing")
	assert.Equal(t, "starter: Provision: invalid input: role \"explorer\" is not a site role: did you mean \"Explorer\"? (role names are case-sensitive) (nothing was started)\n", r.stderr,
		"the workflow's own message, not a stack of wrappers")

	r = s.starter(t, "provision", "--user", "ghost@example.com", "--role", "Viewer", "--json")
	assert.Equal(t, 1, r.code)
	var failure map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &failure))
	assert.Equal(t, "UserNotFound", failure["type"])
	assert.Contains(t, failure["error"], "never creates Tableau accounts")

	r = s.starter(t, "deprovision", "--user", "ana@example.com", "--role", "Creator")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "has site role Explorer, not the revoked Creator: left unchanged")

	r = s.starter(t, "grant", "--user", "ben@example.com", "--role", "Creator", "--request-id", "up-1")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "grant Creator ben@example.com: applied — ben@example.com: site role Viewer → Creator\n", r.stdout)
	r = s.starter(t, "grant", "--user", "ben@example.com", "--role", "Creator", "--request-id", "up-1", "--json")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"outcome": "duplicate"`)
	r = s.starter(t, "revoke", "--user", "ben@example.com", "--role", "Boss")
	assert.Equal(t, 2, r.code, "bad flags start nothing")
	assert.Contains(t, r.stderr, `--role "Boss" is not a site role tabflow can set`)

	r = s.starter(t, "healthcheck")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "✓ Check Tableau User Management Scope: PAT can list site users (7 total).\n")
	assert.Contains(t, r.stdout, "healthy\n")

	r = s.starter(t, "users", "list", "--filter", "siteRole:eq:Viewer", "--csv")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "name,siteRole,lastLogin,id,email,fullName,authSetting", strings.SplitN(r.stdout, "\n", 2)[0])
	assert.Contains(t, r.stdout, "\nviewer@example.com,Viewer,", "the README's filter example works")
	assert.Equal(t, 2, strings.Count(r.stdout, "\n"), "a header and the one Viewer")

	r = s.starter(t, "users", "set-role", "--user", "chloe@example.com", "--role", "Unlicensed")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "Unlicensed", s.fake.Role(faketableau.SandboxSite, "chloe@example.com"))

	r = s.starter(t, "request", "--path", "sessions/current", "--json")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"status": 200`)
	assert.Contains(t, r.stdout, `"contentUrl": "sandbox"`)

	r = s.starter(t, "content", "search", "--terms", "sales")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Sales Overview")

	r = s.starter(t, "nonsense")
	assert.Equal(t, 2, r.code)
}

// TestStarterListsALargeSiteCompletely walks 100,000 users, a page of 1000
// per ListUsers workflow, so no result comes near Temporal's payload limit.
func TestStarterListsALargeSiteCompletely(t *testing.T) {
	s := startStack(t)
	s.fake.AddUsers(faketableau.SandboxSite, 100_000-7, "Viewer")
	s.fake.ResetCounters()
	r := s.starter(t, "users", "list", "--json", "--timeout", "5m")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 100_000, "one JSON line a user")
	seen := make(map[string]bool, len(lines))
	for _, line := range lines {
		var u struct{ ID string }
		require.NoError(t, json.Unmarshal([]byte(line), &u))
		seen[u.ID] = true
	}
	assert.Len(t, seen, 100_000, "every user once")
	assert.Equal(t, 100, s.fake.Count("users:list"), "100 pages of 1000")
}

// A server that ignores pageNumber (every page full, a huge total) ends the
// walk after the repeated page, instead of paging for hours.
func TestStarterStopsARunawayListing(t *testing.T) {
	s := startStack(t)
	s.fake.Inject(faketableau.EndlessUsers(1000, 1_500_000))
	s.fake.ResetCounters()
	r := s.starter(t, "users", "list", "--json")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "Tableau returned page 2 identical to page 1")
	assert.Equal(t, 2, s.fake.Count("users:list"))
}

func TestStarterReportsARunningWorkflowWithTheSameID(t *testing.T) {
	s := startStack(t)
	s.fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, Latency: 3 * time.Second})
	r := s.starter(t, "provision", "--user", "dev@example.com", "--role", "Viewer", "--id", "same-id", "--wait=false")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "started Provision: workflow ID same-id")
	r = s.starter(t, "provision", "--user", "dev@example.com", "--role", "Viewer", "--id", "same-id")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `a workflow with ID "same-id" is already running`)
}

func TestStarterHealthCheckFailsWithNonAdminPAT(t *testing.T) {
	s := startStackWithoutWorker(t)
	s.worker = s.startWorker(t, s.fake.ViewerPATConfig())
	r := s.starter(t, "healthcheck")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "✗ Check Tableau User Management Scope: The configured PAT does not have permission to manage site users.")
	assert.Contains(t, r.stdout, "NOT healthy")
}

func TestStarterConnectionFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "connection.json")
	env := []string{"TABLEAU_CONNECTION_FILE=" + path}
	r := runCmd(t, env, "pat-secret-value-7f3a\n", bin.starter, "connection", "set",
		"--server-url", "https://10ax.online.tableau.com/", "--site", "acme-analytics", "--pat-name", "tabflow", "--pat-secret-file", "-")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Tableau (acme-analytics)")
	assert.NotContains(t, r.stdout+r.stderr, "pat-secret-value-7f3a")

	// Editing: blanks keep, the site is always saved.
	r = runCmd(t, env, "", bin.starter, "connection", "set", "--server-url", "tableau.acme.com")
	require.Equal(t, 0, r.code, r.stderr)
	r = runCmd(t, env, "", bin.starter, "connection", "show")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Tableau (Default site)")
	assert.Contains(t, r.stdout, "tableau.acme.com")
	assert.Contains(t, r.stdout, "tabflow")
	assert.Contains(t, r.stdout, "••••••••7f3a")
	assert.NotContains(t, r.stdout, "pat-secret-value-7f3a")

	// Bad input saves nothing.
	r = runCmd(t, env, "", bin.starter, "connection", "set", "--server-url", "https://10ax.online.tableau.com/#/site/acme/explore")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, `put the site "acme" in Site Content URL instead`)
	r = runCmd(t, env, "", bin.starter, "connection", "show", "--json")
	assert.Contains(t, r.stdout, `"serverUrl": "tableau.acme.com"`)
	assert.Contains(t, r.stdout, `"patSecret": "••••••••7f3a"`)
}

func TestWorkerBinary(t *testing.T) {
	s := startStackWithoutWorker(t)

	// Bad Tableau settings fail at once, with SPEC's messages, before polling.
	r := runCmd(t, append(s.temporalEnv(), "TABLEAU_SERVER_URL=tableau.acme.com", "TABLEAU_CONNECTION_FILE="+filepath.Join(t.TempDir(), "none.json")), "", bin.worker)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "Personal Access Token name is required")
	assert.Contains(t, r.stderr, "Personal Access Token secret is required")

	ctx, cancel := context.WithCancel(testsuite.Context(t))
	defer cancel()
	cmd := s.workerCmd(t, ctx)
	var logs testsuite.SyncBuffer
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())

	r = s.starter(t, "provision", "--user", "chloe@example.com", "--role", "Creator")
	assert.Equal(t, 0, r.code, r.stderr+logs.String())
	assert.Equal(t, "Creator", s.fake.Role(faketableau.SandboxSite, "chloe@example.com"))
	// The binary decodes input strictly: a misspelt field is named, not ignored.
	err := s.run(t, "provision-typo", workflows.ProvisionWorkflow, map[string]any{"user": "ana@example.com", "rol": "Explorer"}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rol: unknown field")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	assert.NoError(t, cmd.Wait(), "a graceful stop exits 0")
	out := logs.String()
	var started map[string]any
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "tabflow worker started") {
			require.NoError(t, json.Unmarshal([]byte(line), &started))
		}
	}
	require.NotNil(t, started, out)
	assert.Equal(t, s.server.GetDefaultNamespace(), started["namespace"])
	assert.Equal(t, "tableau", started["taskQueue"])
	assert.Equal(t, "Tableau (sandbox)", started["site"])
	assert.Equal(t, "••••••••0000", started["secret"])
	assert.NotContains(t, out, faketableau.SandboxAdminSecret)
}

// SIGTERM while a role change hangs in Tableau: the worker stops polling,
// lets the activity finish and sign out, then exits 0.
func TestWorkerStopsGracefullyDuringASlowCall(t *testing.T) {
	s := startStackWithoutWorker(t)
	ctx, cancel := context.WithTimeout(testsuite.Context(t), time.Minute)
	defer cancel()
	cmd := s.workerCmd(t, ctx, "-stop-timeout", "20s")
	var logs testsuite.SyncBuffer
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())

	inFake := make(chan faketableau.Request, 1)
	s.fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, Latency: 3 * time.Second, Notify: inFake})
	r := s.starter(t, "provision", "--user", "ana@example.com", "--role", "Explorer", "--wait=false")
	require.Equal(t, 0, r.code, r.stderr)
	select {
	case <-inFake:
	case <-ctx.Done():
		t.Fatalf("the role update never reached Tableau:\n%s", logs.String())
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	assert.NoError(t, cmd.Wait(), "a graceful stop exits 0:\n%s", logs.String())
	assert.Equal(t, "Explorer", s.fake.Role(faketableau.SandboxSite, "ana@example.com"), "the call in flight finished")
	assert.Zero(t, s.fake.LiveSessions(), "and its session signed out")
	assert.Equal(t, 2, s.fake.Count("signout"), "look-up and update sessions both signed out")
}
