package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"tabflow/activities"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// soak runs the fault tests at a larger scale: TABFLOW_SOAK=1 go test ./testsuite/e2e -run Fault
var soak = os.Getenv("TABFLOW_SOAK") != ""

// provisionAll starts one Provision per user concurrently and waits for all.
func (s *stack) provisionAll(t *testing.T, prefix string, users []string, role string) []error {
	t.Helper()
	return s.provisionOn(t, workflows.TaskQueue, prefix, users, role)
}

// provisionOn is provisionAll on a task queue.
func (s *stack) provisionOn(t *testing.T, taskQueue, prefix string, users []string, role string) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(testsuite.Context(t), 5*time.Minute)
	defer cancel()
	errs := make([]error, len(users))
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: prefix + "/" + u, TaskQueue: taskQueue},
				workflows.ProvisionWorkflow, workflows.ProvisionInput{User: u, Role: role})
			if err == nil {
				var res workflows.ProvisionResult
				err = run.Get(ctx, &res)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errs
}

func userNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("user%05d@example.com", i+1)
	}
	return names
}

func TestFault200ParallelProvisionsOnePATNoCollisions(t *testing.T) {
	for _, auth := range []string{"pat", "jwt"} {
		t.Run(auth, func(t *testing.T) {
			s := startStackWithoutWorker(t)
			cfg := s.fake.PATConfig()
			if auth == "jwt" {
				cfg = s.fake.JWTConfig()
			}
			s.worker = s.startWorker(t, cfg)
			users := userNames(200)
			s.fake.AddUsers(faketableau.SandboxSite, len(users), "Viewer")
			s.fake.SetLatency(5 * time.Millisecond)
			s.fake.ResetCounters()
			start := time.Now()
			for i, err := range s.provisionAll(t, "par-"+auth, users, "Explorer") {
				require.NoError(t, err, users[i])
			}
			elapsed := time.Since(start)
			for _, u := range users {
				require.Equal(t, "Explorer", s.fake.Role(faketableau.SandboxSite, u), u)
			}
			assert.Zero(t, s.fake.Collisions(), "no sign-in ever ended a live session")
			// 6 calls per changed provision, and for compare-and-set one read by
			// ID of each user whose look-up was over 2 s old when its update's
			// session began (it waited for the PAT meanwhile).
			reread := s.fake.Count("users:get")
			assert.Equal(t, 6*len(users)+reread, s.fake.Count(""))
			assert.Equal(t, len(users), s.fake.Count("users:update"), "each role set once")
			t.Logf("%s: %d of %d updates read the user again first (compare-and-set after a wait)", auth, reread, len(users))
			if auth == "pat" {
				assert.Equal(t, 1, s.fake.PeakConcurrency(), "one PAT: one request at a time")
			} else {
				assert.Greater(t, s.fake.PeakConcurrency(), 1, "JWT sessions overlap (how far depends on the machine: BenchmarkProvision reports it)")
			}
			t.Logf("%s: 200 provisions in %s, peak %d concurrent Tableau requests", auth, elapsed.Round(time.Millisecond), s.fake.PeakConcurrency())
		})
	}
}

func TestFaultInjectionEveryWorkflowStillLands(t *testing.T) {
	s := startStackWithoutWorker(t)
	cfg := s.fake.PATConfig()
	cfg.Timeout = time.Second // slow answers below run past it
	s.worker = s.startWorker(t, cfg)
	n := 40
	if soak {
		n = 400
	}
	users := userNames(n)
	s.fake.AddUsers(faketableau.SandboxSite, n, "Viewer")
	const retryAfter = 2 * time.Second
	// Five kinds at 4.5% each: about 20% of all calls misbehave.
	for _, f := range []faketableau.Fault{
		faketableau.ServerError(),
		faketableau.HTMLUnavailable(),
		faketableau.RateLimited(retryAfter),
		{Reset: true},
		{Latency: 1500 * time.Millisecond},
	} {
		f.Rate = 0.045
		s.fake.Inject(f)
	}
	s.fake.ResetCounters()
	for i, err := range s.provisionAll(t, "faults", users, "Creator") {
		require.NoError(t, err, users[i])
	}
	for _, u := range users {
		require.Equal(t, "Creator", s.fake.Role(faketableau.SandboxSite, u), u)
	}

	reqs := s.fake.Requests()
	failed, rateLimited := 0, 0
	for i, r := range reqs {
		if r.Status == 0 || r.Status >= 400 || r.Took >= time.Second {
			failed++
		}
		if r.Status != http.StatusTooManyRequests || r.Endpoint == "signin" || r.Endpoint == "signout" {
			continue
		}
		// The next time the same call is made must be at least Retry-After later.
		rateLimited++
		for _, next := range reqs[i+1:] {
			if next.Method == r.Method && next.Path == r.Path && next.Query == r.Query {
				gap := next.At.Sub(r.At)
				assert.GreaterOrEqual(t, gap, retryAfter-50*time.Millisecond, "retry of %s %s came %s after a 429", r.Method, r.Path, gap)
				break
			}
		}
	}
	share := float64(failed) / float64(len(reqs))
	t.Logf("%d calls, %.0f%% misbehaved, %d rate-limited calls retried no sooner than Retry-After", len(reqs), 100*share, rateLimited)
	assert.Greater(t, share, 0.10, "faults were really injected")
	assert.Positive(t, rateLimited)
}

func TestFaultTableauDownThenBack(t *testing.T) {
	s := startStack(t)
	s.fake.Inject(faketableau.Fault{Refuse: true})
	users := []string{"ana@example.com", "ben@example.com", "chloe@example.com"}
	done := make(chan []error, 1)
	go func() { done <- s.provisionAll(t, "outage", users, "ExplorerCanPublish") }()

	var report workflows.HealthCheckResult
	began := time.Now()
	require.NoError(t, s.run(t, "outage-health", workflows.HealthCheckWorkflow, map[string]any{}, &report),
		"the health check completes while Tableau is still down")
	t.Logf("health check reported the outage after %s", time.Since(began).Round(100*time.Millisecond))
	assert.False(t, report.OK)
	assert.Equal(t, "Unable to connect to Tableau API. Please verify your credentials are valid and the server URL is correct.", report.Checks[0].Message)
	assert.Contains(t, report.Checks[0].Cause, "could not reach Tableau at "+s.fake.Host)
	select {
	case <-done:
		t.Fatal("provisions finished while Tableau was down")
	default:
	}
	for _, u := range users {
		assert.NotEqual(t, "ExplorerCanPublish", s.fake.Role(faketableau.SandboxSite, u))
	}

	s.fake.ClearFaults() // Tableau is back
	for i, err := range <-done {
		require.NoError(t, err, users[i])
		assert.Equal(t, "ExplorerCanPublish", s.fake.Role(faketableau.SandboxSite, users[i]))
	}
}

func TestFaultExpiredPATFailsFastReplacedSessionRetries(t *testing.T) {
	s := startStack(t)
	s.fake.RevokePAT(faketableau.SandboxAdminPAT)
	s.fake.ResetCounters()
	err := s.run(t, "revoked-pat", workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Viewer"}, nil)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, activities.ErrTableauSignInRejected, appErr.Type())
	assert.Equal(t, "Tableau sign-in failed (HTTP 401, Signin Error): Error signing in to Tableau Server", appErr.Message())
	assert.Equal(t, 1, s.fake.Count("signin"), "not retried")

	s2 := startStack(t)
	s2.fake.Inject(faketableau.Fault{PathContains: "/users", Times: 2, Status: 401,
		Body: `{"error":{"code":"401002","summary":"Unauthorized Access","detail":"Invalid authentication credentials were provided."}}`})
	var res workflows.ProvisionResult
	require.NoError(t, s2.run(t, "replaced-session", workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Viewer"}, &res))
	assert.True(t, res.Changed)
	assert.Equal(t, 4, s2.fake.Count("signin"), "two failed attempts, then look-up and update")
}

func TestFaultWorkerKilledMidActivity(t *testing.T) {
	s := startStackWithoutWorker(t)
	user := "ana@example.com"
	id := workflows.UserAccessWorkflowID(workflows.TaskQueue, user)
	events := []workflows.AccessEvent{ // one role each: nothing coalesces
		{Op: "grant", Role: "Viewer", RequestID: "k1"},
		{Op: "grant", Role: "Explorer", RequestID: "k2"},
		{Op: "grant", Role: "Creator", RequestID: "k3"},
		{Op: "grant", Role: "ExplorerCanPublish", RequestID: "k4"},
		{Op: "revoke", Role: "SiteAdministratorExplorer", RequestID: "k5"},
	}
	ctx := testsuite.Context(t)
	for _, ev := range events {
		_, err := s.client.SignalWithStartWorkflow(ctx, id, workflows.AccessSignal, ev, client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue},
			workflows.UserAccessWorkflow, workflows.UserAccessInput{User: user})
		require.NoError(t, err)
	}
	inFake := make(chan faketableau.Request, 1)
	// The second update (k2's) hangs inside Tableau until the worker dies.
	s.fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, Latency: time.Minute, Notify: inFake})
	s.fake.Inject(faketableau.Fault{Method: "PUT", Times: 1}) // k1's passes (first match wins, then this is gone)
	first := s.startWorkerProcess(t)
	select {
	case <-inFake:
	case <-time.After(time.Minute):
		t.Fatal("no update reached the fake")
	}
	require.NoError(t, first.Process.Kill()) // SIGKILL: no clean stop
	first.Wait()
	s.startWorkerProcess(t)

	res := s.forget(t, id)
	var seen []string
	for _, rec := range res.History {
		seen = append(seen, rec.RequestID+":"+string(rec.Outcome))
	}
	assert.Equal(t, []string{"k1:applied", "k2:applied", "k3:applied", "k4:unchanged", "k5:unchanged"}, seen, "none lost, none twice")
	assert.Equal(t, "Creator", s.fake.Role(faketableau.SandboxSite, user), "the highest grant held")

	// What Tableau itself applied: each change once, in event order (the
	// killed call never landed; its retry did). ExplorerCanPublish is below
	// Creator; a revoke of a role not held changes nothing.
	var applied []string
	for _, c := range s.fake.RoleChanges() {
		if c.User == user {
			applied = append(applied, c.To)
		}
	}
	assert.Equal(t, []string{"Viewer", "Explorer", "Creator"}, applied)
}

func TestFaultBadInputIsRejectedBeforeAnyTableauCall(t *testing.T) {
	s := startStack(t)
	s.fake.ResetCounters()
	long := strings.Repeat("a", 300) + "@example.com"
	cases := []struct {
		name, workflow, input, want string
	}{
		{"empty user", "Provision", `{"user":"","role":"Explorer"}`, "user is required"},
		{"whitespace user", "Provision", `{"user":"   ","role":"Explorer"}`, "user must not be blank"},
		{"padded user", "Deprovision", `{"user":" ana@example.com","role":"Explorer"}`, "must not start or end with spaces"},
		{"control characters", "Provision", `{"user":"ana@example.com\u0000","role":"Explorer"}`, "contains control characters"},
		{"oversized user", "Provision", `{"user":"` + long + `","role":"Explorer"}`, "Tableau user names have at most 255"},
		{"unknown role", "Provision", `{"user":"ana@example.com","role":"Admin"}`, `role "Admin" is not a site role tabflow can set`},
		{"wrong-case role", "Provision", `{"user":"ana@example.com","role":"creator"}`, `did you mean "Creator"?`},
		{"role with injection characters", "Provision", `{"user":"ana@example.com","role":"Explorer\"; DROP TABLE users; --"}`, "is not a site role tabflow can set"},
		{"unknown field", "Provision", `{"user":"ana@example.com","role":"Explorer","force":true}`, "force: unknown field"},
		{"wrong type", "Provision", `{"user":["ana@example.com"],"role":"Explorer"}`, "user: must be a JSON string, not array"},
		{"not an object", "HealthCheck", `"check everything"`, "input must be a JSON object"},
		{"bad method", "TableauRequest", `{"method":"CONNECT","path":"sites"}`, `method "CONNECT" must be one of`},
		{"absolute URL", "TableauRequest", `{"method":"GET","path":"https://evil.example.com/api/3.24/sites"}`, "must be relative to /api/{version}/, not a full URL"},
		{"dot-dot path", "TableauRequest", `{"method":"GET","path":"sites/../../admin"}`, "must not contain . or .. segments"},
		{"escaped dot-dot", "TableauRequest", `{"method":"GET","path":"sites/%2e%2e/admin"}`, "escaped segment"},
		{"non-JSON body", "TableauRequest", `{"method":"POST","path":"sites/{site-id}/users","body":"<tsRequest/>"}`, "body must be a JSON object or array"},
		{"body on GET", "TableauRequest", `{"method":"GET","path":"sites","body":{"x":1}}`, "body is not sent with GET"},
		{"unknown filter operator", "ListUsers", `{"filter":"name:like:%"}`, "must be Tableau filter syntax"},
		{"dot-dot user ID", "GetUser", `{"id":".."}`, `id ".." is not a Tableau LUID`},
		{"dot-dot content type", "UsageStats", `{"type":"..","luid":"w1"}`, `type ".." is not a Tableau content type`},
		{"duplicate keys", "Provision", `{"user":"ana@example.com","user":"ben@example.com","role":"Explorer"}`, "user: given more than once, which is ambiguous"},
		{"megabyte user", "Provision", `{"user":"` + strings.Repeat("u", 1500<<10) + `","role":"Explorer"}`, "is 1536000 characters long; Tableau user names have at most 255"},
		{"megabyte field name", "Provision", `{"` + strings.Repeat("f", 1<<20) + `":1,"user":"ana@example.com","role":"Explorer"}`, "(1048576 bytes in all)\": unknown field"},
		{"negative events per run", "UserAccess", `{"user":"ana@example.com","maxEventsPerRun":-1}`, "maxEventsPerRun must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.run(t, "bad-"+strings.ReplaceAll(c.name, " ", "-"), c.workflow, json.RawMessage(c.input), nil)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "%v", err)
			assert.Equal(t, activities.ErrInvalidInput, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Contains(t, appErr.Message(), c.want)
			assert.Less(t, len(appErr.Message()), 2000, "a bounded message, whatever the input")
			hist := fetchHistory(t, s.client, "bad-"+strings.ReplaceAll(c.name, " ", "-"), "")
			for _, ev := range hist.Events {
				assert.NotEqual(t, enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, ev.EventType, "no activity was scheduled")
			}
		})
	}
	assert.Zero(t, s.fake.Count(""), "no request reached Tableau")
}

// An hour-long Retry-After waits no longer than the activity's own longest
// retry interval (30 s for reads), not the one-minute default cap. (The SDK's
// test environment does not give activities their retry policy: this needs
// a real server.)
func TestRetryAfterIsCappedByTheActivitysRetryPolicy(t *testing.T) {
	s := startStack(t)
	s.fake.Inject(faketableau.Fault{PathContains: "/users", Times: 1, Status: 429, Header: http.Header{"Retry-After": {"3600"}}, Body: "slow down"})
	start := time.Now()
	var res workflows.TableauRequestResult
	require.NoError(t, s.run(t, "retry-after-cap", workflows.TableauRequestWorkflow, map[string]any{"method": "GET", "path": "sites/{site-id}/users"}, &res))
	waited := time.Since(start)
	t.Logf("a 3600 s Retry-After on a read waited %s", waited.Round(100*time.Millisecond))
	assert.GreaterOrEqual(t, waited, 25*time.Second, "the retry waited")
	assert.Less(t, waited, 50*time.Second, "no longer than the read activity's 30 s maximum interval")
}
