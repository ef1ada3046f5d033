package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// waitForPollers waits until n worker processes poll the task queue.
func (s *stack) waitForPollers(t testing.TB, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := s.client.DescribeTaskQueue(testsuite.Context(t), workflows.TaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		return err == nil && len(resp.GetPollers()) >= n
	}, 30*time.Second, 100*time.Millisecond, "%d workers polling", n)
}

// provisionTimed provisions n sandbox users at once and says how long it took.
func (s *stack) provisionTimed(t *testing.T, prefix string, n int) time.Duration {
	t.Helper()
	start := time.Now()
	for i, err := range s.provisionAll(t, prefix, userNames(n), "Explorer") {
		require.NoError(t, err, "provision %d", i)
	}
	return time.Since(start)
}

// Two worker processes sharing one PAT: the fleet-wide lease keeps Tableau
// from ever seeing two live sessions of it.
func TestFleetTwoWorkersSharingAPATNeverOverlap(t *testing.T) {
	s := startStackWithoutWorker(t)
	s.fake.AddUsers(faketableau.SandboxSite, 40, "Unlicensed")
	s.fake.SetLatency(100 * time.Millisecond)
	s.startWorkerProcess(t)
	s.startWorkerProcess(t)
	s.waitForPollers(t, 2)
	s.fake.ResetCounters()
	took := s.provisionTimed(t, "fleet", 40)
	t.Logf("40 provisions, 2 workers, one PAT, 100 ms a call: %s; %d requests", took.Round(100*time.Millisecond), s.fake.Count(""))
	assert.Zero(t, s.fake.Collisions(), "no sign-in ever ended another worker's session")
	assert.Zero(t, s.fake.CutOffCalls(), "no call was cut off")
	assert.Equal(t, 1, s.fake.PeakConcurrency(), "Tableau never saw two requests of the PAT at once")
}

// One of two workers killed while its call hangs in Tableau: its lease
// expires within seconds and the survivor finishes everything, with none of
// its calls cut off.
func TestFleetSurvivorFinishesAfterAWorkerIsKilled(t *testing.T) {
	s := startStackWithoutWorker(t)
	ctx, cancel := context.WithTimeout(testsuite.Context(t), 3*time.Minute)
	defer cancel()
	s.fake.AddUsers(faketableau.SandboxSite, 10, "Unlicensed")
	inFake := make(chan faketableau.Request, 1)
	s.fake.Inject(faketableau.Fault{Method: "PUT", Times: 1, Latency: time.Minute, Notify: inFake})
	first := s.startWorkerProcess(t)
	s.waitForPollers(t, 1)
	done := make(chan time.Duration, 1)
	go func() { done <- s.provisionTimed(t, "killed", 10) }()
	select {
	case <-inFake:
	case <-ctx.Done():
		t.Fatal("no update reached the fake")
	}
	s.startWorkerProcess(t)
	require.NoError(t, first.Process.Kill()) // SIGKILL while its session is live
	first.Wait()
	took := <-done
	t.Logf("10 provisions finished %s after one of two workers was killed mid-call", took.Round(100*time.Millisecond))
	assert.Zero(t, s.fake.CutOffCalls(), "the survivor's calls were never cut off")
	for i := 1; i <= 10; i++ {
		assert.Equal(t, "Explorer", s.fake.Role(faketableau.SandboxSite, fmt.Sprintf("user%05d@example.com", i)))
	}
}

// A pool of two PATs provisions in parallel: 30 users take at most 0.65× the
// time one PAT takes, still with never two sessions of one PAT.
func TestFleetPATPoolProvisionsFaster(t *testing.T) {
	run := func(pool bool) time.Duration {
		s := startStackWithoutWorker(t)
		s.fake.AddUsers(faketableau.SandboxSite, 30, "Unlicensed")
		cmd := s.workerCmd(t, context.Background())
		if pool {
			s.fake.PoolConfig() // adds the second PAT to the fake
			cmd.Env = append(cmd.Env, "TABLEAU_PAT_NAME_2="+testsuite.SecondPAT, "TABLEAU_PAT_SECRET_2="+testsuite.SecondPATSecret)
		}
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		s.waitForPollers(t, 1)
		s.fake.SetLatency(100 * time.Millisecond)
		s.fake.ResetCounters()
		took := s.provisionTimed(t, "pool", 30)
		assert.Zero(t, s.fake.Collisions(), "never two live sessions of one PAT (pool %v)", pool)
		assert.Zero(t, s.fake.CutOffCalls())
		if pool {
			assert.Equal(t, 2, s.fake.PeakConcurrency(), "both PATs worked at once")
		}
		return took
	}
	one, two := run(false), run(true)
	t.Logf("30 provisions at 100 ms a call: one PAT %s, a pool of two %s (%.2f×)", one.Round(100*time.Millisecond), two.Round(100*time.Millisecond), two.Seconds()/one.Seconds())
	assert.LessOrEqual(t, two.Seconds(), 0.65*one.Seconds())
}

// Workers of different task queues (two sites, or a deployment that changed
// TABFLOW_TASK_QUEUE) with one PAT share one lease, which runs on the lease
// task queue every worker polls: both provision, never overlapping; and a
// worker restarted on yet another task queue provisions at once.
func TestFleetWorkersOnDifferentTaskQueuesShareOneLease(t *testing.T) {
	s := startStackWithoutWorker(t)
	s.fake.AddUsers(faketableau.SandboxSite, 13, "Unlicensed")
	s.fake.SetLatency(50 * time.Millisecond)
	start := func(taskQueue string) *exec.Cmd {
		cmd := s.workerCmd(t, context.Background())
		cmd.Env = append(cmd.Env, "TABFLOW_TASK_QUEUE="+taskQueue)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	a, b := start(workflows.TaskQueue), start("site-b")
	var wg sync.WaitGroup
	var errsA, errsB []error
	users := userNames(12)
	wg.Go(func() { errsA = s.provisionOn(t, workflows.TaskQueue, "queue-a", users[:6], "Explorer") })
	wg.Go(func() { errsB = s.provisionOn(t, "site-b", "queue-b", users[6:], "Explorer") })
	wg.Wait()
	for i, err := range append(errsA, errsB...) {
		require.NoError(t, err, "provision %d", i)
	}
	assert.Zero(t, s.fake.Collisions(), "one lease for both task queues: never two sessions of the PAT")
	assert.Zero(t, s.fake.CutOffCalls())

	for _, w := range []*exec.Cmd{a, b} {
		w.Process.Signal(os.Interrupt)
		w.Wait()
	}
	start("site-c")
	began := time.Now()
	for _, err := range s.provisionOn(t, "site-c", "queue-c", userNames(13)[12:], "Explorer") {
		require.NoError(t, err)
	}
	t.Logf("a worker restarted on another task queue provisioned in %s", time.Since(began).Round(100*time.Millisecond))
	assert.Less(t, time.Since(began), 30*time.Second, "the lease is not pinned to a task queue nobody polls")
}

// Long sessions (a slow Tableau: 2 s a call, ~6 s a session) on two workers
// with one PAT: a worker that waited longer than the lease margin for its
// lease still keeps it for its whole session, so no session is cut off and
// none overlaps: one sign-in per session.
func TestFleetLongSessionsAreNeverCutShort(t *testing.T) {
	s := startStackWithoutWorker(t)
	s.fake.AddUsers(faketableau.SandboxSite, 2, "Unlicensed")
	for _, queue := range []string{workflows.TaskQueue, "site-b"} { // one provision on each worker
		cmd := s.workerCmd(t, context.Background())
		cmd.Env = append(cmd.Env, "TABFLOW_TASK_QUEUE="+queue)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	s.waitForPollers(t, 1)
	s.fake.SetLatency(2 * time.Second)
	s.fake.ResetCounters()
	start := time.Now()
	users := userNames(2)
	var wg sync.WaitGroup
	errs := make([][]error, 2)
	for i, queue := range []string{workflows.TaskQueue, "site-b"} {
		wg.Go(func() { errs[i] = s.provisionOn(t, queue, "long-"+queue, users[i:i+1], "Explorer") })
	}
	wg.Wait()
	for _, e := range errs {
		require.NoError(t, e[0])
	}
	t.Logf("2 provisions of 2 sessions each on two workers, 2 s a call: %s; %d sign-ins", time.Since(start).Round(100*time.Millisecond), s.fake.Count("signin"))
	assert.Equal(t, 4, s.fake.Count("signin"), "one sign-in per session: none was cut off and retried")
	assert.Equal(t, 2, s.fake.Count("users:update"), "each role update sent once")
	assert.Zero(t, s.fake.Collisions(), "never two sessions at once")
	assert.Zero(t, s.fake.CutOffCalls())
}

// A lease workflow of the first protocol left on a task queue nobody polls
// (an upgrade that also changed TABFLOW_TASK_QUEUE), holding the PAT for a
// worker that is gone: new workers never ask it (the lease workflow's ID
// names its protocol), so they provision at once, with no operator.
func TestFleetIgnoresAStrandedLeaseOfAnOlderRelease(t *testing.T) {
	s := startStackWithoutWorker(t)
	s.fake.AddUsers(faketableau.SandboxSite, 3, "Unlicensed")
	cfg := s.fake.PATConfig()
	stranded := workflows.PATLeaseWorkflowID(cfg.PATLeaseKey(cfg.PATs()[0]))
	ctx := testsuite.ContextWithin(t, 2*time.Minute)
	_, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: stranded, TaskQueue: "a-queue-nobody-polls"},
		workflows.PATLeaseWorkflow, workflows.PATLeaseInput{TTL: time.Hour, Holder: "gone", Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	s.startWorkerProcess(t)
	s.waitForPollers(t, 1)
	took := s.provisionTimed(t, "stranded", 3)
	t.Logf("3 provisions beside a stranded lease of an older release: %s", took.Round(100*time.Millisecond))
	assert.Less(t, took, 30*time.Second, "not held up by the stranded lease")
	d, err := s.client.DescribeWorkflowExecution(ctx, stranded, "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, d.GetWorkflowExecutionInfo().GetStatus(), "the stranded lease was there all along")
}
