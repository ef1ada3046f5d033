package workflows_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.temporal.io/sdk/interceptor"
	sdktestsuite "go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/internal/urgency"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// priorities records the type and Temporal PriorityKey of each child
// workflow a workflow starts.
type priorities struct {
	interceptor.WorkerInterceptorBase
	mu  sync.Mutex
	got []string
}

func (p *priorities) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &childPriorities{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, p: p}
}

type childPriorities struct {
	interceptor.WorkflowInboundInterceptorBase
	p *priorities
}

func (c *childPriorities) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return c.Next.Init(&childStarts{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, p: c.p})
}

type childStarts struct {
	interceptor.WorkflowOutboundInterceptorBase
	p *priorities
}

func (c *childStarts) ExecuteChildWorkflow(ctx workflow.Context, childType string, args ...any) workflow.ChildWorkflowFuture {
	if !workflow.IsReplaying(ctx) {
		c.p.mu.Lock()
		c.p.got = append(c.p.got, fmt.Sprintf("%s:%d", childType, workflow.GetChildWorkflowOptions(ctx).Priority.PriorityKey))
		c.p.mu.Unlock()
	}
	return c.Next.ExecuteChildWorkflow(ctx, childType, args...)
}

// The entity starts each event's child with its event's urgency (revokes
// and expiries first, then grants, then reconcile's applies); the record
// says how long an event waited behind the one before it, and its Tableau
// write is timed by op (tabflow_access_latency_seconds).
func TestEntityChildrenGoByTheirEventsUrgency(t *testing.T) {
	fake := testsuite.StartTableau(t)
	scope := tally.NewTestScope("", nil)
	var s sdktestsuite.WorkflowTestSuite
	s.SetMetricsHandler(sdktally.NewMetricsHandler(scope))
	env := s.NewTestWorkflowEnvironment()
	env.SetDataConverter(workflows.DataConverter)
	seen := &priorities{}
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{seen}})
	workflows.Register(env, activities.New(fake.Client(t, fake.PATConfig())))
	e := &entityTest{t: t, env: env, fake: fake, user: "ana@example.com"}
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.UserAccessWorkflowID(testQueue, "ana@example.com")})

	// The grant's update fails once, so its child retries a second later
	// while the revoke waits behind it.
	fake.Inject(faketableau.Fault{Method: "PUT", PathContains: "/users/", Times: 1, Status: 503, Body: "busy"})
	e.at(time.Minute, func() {
		e.signal(access("grant", "Creator", "g1", ""), access("revoke", "Creator", "r1", ""),
			workflows.AccessEvent{Op: "grant", Role: "Viewer", RequestID: "g2", Duration: "1h"})
	})
	e.at(3*time.Hour, e.forget)
	res := e.run(workflows.UserAccessInput{})

	assert.Equal(t, []string{"g1:applied", "r1:applied", "g2:applied", ":expired"}, outcomes(res.History))
	waited, err := time.ParseDuration(res.History[1].Waited)
	require.NoError(t, err, "the revoke's record says how long it waited: %+v", res.History[1])
	assert.GreaterOrEqual(t, waited, time.Second, "behind the grant's retry")

	level := func(l int) string { return fmt.Sprint(l) }
	assert.Equal(t, []string{
		"Provision:" + level(urgency.Grant), "Deprovision:" + level(urgency.Revoke),
		"Provision:" + level(urgency.Grant), "Deprovision:" + level(urgency.Revoke), // g2, then its expiry
	}, seen.got)

	timers := map[string]int{}
	for _, tm := range scope.Snapshot().Timers() {
		timers[tm.Tags()["op"]] += len(tm.Values())
	}
	assert.Equal(t, map[string]int{"grant": 2, "revoke": 1, "expire": 1}, timers, "one latency per Tableau write, by op")
}

// Every workflow a person or system starts has its place in the order.
func TestEveryWorkflowTypeHasAnUrgency(t *testing.T) {
	for _, c := range []struct {
		workflowType string
		want         int
	}{
		{workflows.DeprovisionWorkflow, urgency.Revoke},
		{workflows.UserAccessWorkflow, urgency.Revoke},
		{workflows.ProvisionWorkflow, urgency.Direct},
		{workflows.SetSiteRoleWorkflow, urgency.Direct},
		{workflows.ReconcileWorkflow, urgency.Read},
		{workflows.ListUsersWorkflow, urgency.Read},
		{workflows.HealthCheckWorkflow, urgency.Read},
		{workflows.TableauRequestWorkflow, urgency.Read},
	} {
		assert.Equal(t, c.want, workflows.PriorityOf(c.workflowType).PriorityKey, c.workflowType)
	}
	assert.Equal(t, urgency.Revoke, workflows.EntityStartOptions("tableau", "ana@example.com").Priority.PriorityKey)
}
