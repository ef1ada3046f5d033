package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// Revokes first (SPEC §3.3): a leaver's revoke, and an expiry, that fall due
// behind a bulk of direct provisions reach Tableau within the session in
// flight plus their own calls, whatever the bulk's size.

// bulkSetup is how the bulk is served: worker processes sharing the PAT,
// and whether they have a pool of two PATs.
type bulkSetup struct {
	name    string
	workers int
	pool    bool
}

// revokeFigures is one run: from the revoke's arrival, and from the
// expiry's due time, to Tableau's write; and the bulk, from its first start
// to its last result.
type revokeFigures struct{ revoke, expiry, bulk time.Duration }

const (
	leaver     = "ben@example.com" // a sandbox Viewer, made Creator through the entity, then revoked
	contractor = "ana@example.com" // sandbox Unlicensed, made Creator for seconds that run out in the bulk
	expireIn   = 6 * time.Second
)

func revokeUnderLoad(tb testing.TB, setup bulkSetup, n int, latency time.Duration) revokeFigures {
	s := startStackWithoutWorker(tb)
	s.fake.AddUsers(faketableau.SandboxSite, n, "Unlicensed")
	for range setup.workers {
		cmd := s.workerCmd(tb, context.Background())
		if setup.pool {
			s.fake.PoolConfig() // adds the second PAT to the fake
			cmd.Env = append(cmd.Env, "TABLEAU_PAT_NAME_2="+testsuite.SecondPAT, "TABLEAU_PAT_SECRET_2="+testsuite.SecondPATSecret)
		}
		require.NoError(tb, cmd.Start())
		tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	s.waitForPollers(tb, setup.workers)
	ctx := testsuite.ContextWithin(tb, 30*time.Minute)
	send := func(user string, ev workflows.AccessEvent) workflows.AccessRecord {
		rec, err := workflows.SendAccess(ctx, s.client, workflows.TaskQueue, workflows.UserAccessInput{User: user}, ev)
		require.NoError(tb, err)
		require.Equal(tb, workflows.OutcomeApplied, rec.Outcome, "%s: %s", user, rec.Message)
		return rec
	}
	send(leaver, workflows.AccessEvent{Op: workflows.OpGrant, Role: "Creator", RequestID: "joiner"})
	temporary := send(contractor, workflows.AccessEvent{Op: workflows.OpGrant, Role: "Creator", RequestID: "contract", Duration: expireIn.String()})
	expiresAt := temporary.ReceivedAt.Add(expireIn) // a duration counts from the event's arrival
	s.fake.SetLatency(latency)
	s.fake.ResetCounters()

	// written closes with the time Tableau no longer shows user as Creator.
	written := func(user string) <-chan time.Time {
		at := make(chan time.Time, 1)
		go func() {
			for ctx.Err() == nil && s.fake.Role(faketableau.SandboxSite, user) == "Creator" {
				time.Sleep(5 * time.Millisecond)
			}
			at <- time.Now()
		}()
		return at
	}
	contractorWritten := written(contractor)

	start := time.Now()
	var bulk sync.WaitGroup
	for i, u := range userNames(n) {
		bulk.Go(func() {
			run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bulk-%d", i), TaskQueue: workflows.TaskQueue,
				Priority: workflows.PriorityOf(workflows.ProvisionWorkflow)}, workflows.ProvisionWorkflow, workflows.ProvisionInput{User: u, Role: "Explorer"})
			if err == nil {
				err = run.Get(ctx, nil)
			}
			assert.NoError(tb, err, u)
		})
	}
	time.Sleep(3 * time.Second) // the bulk is queued and under way
	leaverWritten := written(leaver)
	sent := time.Now()
	send(leaver, workflows.AccessEvent{Op: workflows.OpRevoke, Role: "Creator", RequestID: "leaver"})
	f := revokeFigures{revoke: (<-leaverWritten).Sub(sent), expiry: (<-contractorWritten).Sub(expiresAt)}
	bulk.Wait()
	f.bulk = time.Since(start)
	assert.Equal(tb, "Unlicensed", s.fake.Role(faketableau.SandboxSite, contractor), "the expiry ran")
	assert.Zero(tb, s.fake.Collisions(), "never two live sessions of one PAT")
	return f
}

// A revoke sent 3 s into a bulk of 40 provisions on one PAT (about 25 s of
// Tableau work at 100 ms a call), and an expiry due 6 s after its grant,
// each reach Tableau in a few sessions' time, not at the bulk's end.
func TestRevokeAndExpiryGoFirstBehindABulk(t *testing.T) {
	f := revokeUnderLoad(t, bulkSetup{name: "one PAT", workers: 1}, 40, 100*time.Millisecond)
	t.Logf("40 provisions, one PAT, 100 ms a call: bulk %s; revoke reached Tableau after %s, expiry %s after it fell due",
		f.bulk.Round(100*time.Millisecond), f.revoke.Round(10*time.Millisecond), f.expiry.Round(10*time.Millisecond))
	assert.Less(t, f.revoke, f.bulk/4, "the revoke did not wait for the bulk")
	assert.Less(t, f.expiry, f.bulk/4, "the expiry did not wait for the bulk")
}

// BenchmarkRevokeUnderLoad is the table in docs/performance.md: for bulks of
// N direct provisions at -tableau-latency (100 ms for the table) with one
// PAT, a pool of two, and two worker processes sharing the PAT, how long a
// revoke sent 3 s in and an expiry falling due about 6 s in take to reach
// Tableau, and the bulk's time. Run once each (-benchtime 1x):
//
//	go test ./testsuite/e2e -run '^$' -bench RevokeUnderLoad -benchtime 1x -tableau-latency 100ms
func BenchmarkRevokeUnderLoad(b *testing.B) {
	for _, setup := range []bulkSetup{{"PAT", 1, false}, {"PATpool2", 1, true}, {"PAT2workers", 2, false}} {
		for _, n := range []int{50, 150, 500} {
			b.Run(fmt.Sprintf("%s/N=%d", setup.name, n), func(b *testing.B) {
				for range b.N {
					f := revokeUnderLoad(b, setup, n, *tableauLatency)
					b.ReportMetric(f.revoke.Seconds(), "revoke-s")
					b.ReportMetric(f.expiry.Seconds(), "expiry-s")
					b.ReportMetric(f.bulk.Seconds(), "bulk-s")
					b.ReportMetric(float64(n)/f.bulk.Seconds(), "provisions/s")
				}
			})
		}
	}
}
