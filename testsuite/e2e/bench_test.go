package e2e

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"tabflow/app"
	"tabflow/tableau"
	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// Benchmarks run against a real in-process Temporal server and the fake
// Tableau with a fixed latency per call. b.N is the number of provisions, all
// started at once; pick it with -benchtime, e.g.
//
//	go test ./testsuite/e2e -run '^$' -bench . -benchtime 200x
var tableauLatency = flag.Duration("tableau-latency", 20*time.Millisecond, "fake Tableau latency per call in benchmarks")

func BenchmarkProvision(b *testing.B) {
	for _, c := range []struct {
		name, auth string
		unchanged  bool
	}{
		{"PAT/changed", "pat", false},
		{"PAT/unchanged", "pat", true},
		{"PATpool2/changed", "pool", false},
		{"PATlease/changed", "lease", false},
		{"JWT/changed", "jwt", false},
		{"JWT/unchanged", "jwt", true},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := startStackWithoutWorker(b)
			cfg := s.fake.PATConfig()
			var opts []tableau.Option
			switch c.auth {
			case "jwt":
				cfg = s.fake.JWTConfig()
			case "pool":
				cfg = s.fake.PoolConfig()
			case "lease": // the fleet-wide lease, as the worker binary takes it
				opts = append(opts, tableau.WithFleetLock(app.NewFleetLock(s.client, "bench")))
				s.server.NewWorker(workflows.LeaseTaskQueue, workflows.RegisterLeases)
			}
			s.worker = s.startWorker(b, cfg, opts...)
			users := userNames(b.N)
			s.fake.AddUsers(faketableau.SandboxSite, b.N, "Viewer")
			role := "Explorer"
			if c.unchanged {
				role = "Viewer"
			}
			s.fake.SetLatency(*tableauLatency)
			s.fake.ResetCounters()

			ctx, cancel := context.WithTimeout(b.Context(), 30*time.Minute)
			defer cancel()
			latencies := make([]time.Duration, b.N)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for i, u := range users {
				wg.Go(func() {
					t0 := time.Now()
					run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench-%d", i), TaskQueue: workflows.TaskQueue},
						workflows.ProvisionWorkflow, workflows.ProvisionInput{User: u, Role: role})
					if err == nil {
						err = run.Get(ctx, nil)
					}
					if err != nil {
						b.Error(err)
					}
					latencies[i] = time.Since(t0)
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()

			calls := float64(s.fake.Count("")) / float64(b.N)
			slices.Sort(latencies)
			p50, p99 := latencies[len(latencies)/2], latencies[(len(latencies)*99)/100]
			perCall := float64(*tableauLatency)
			b.ReportMetric(calls, "calls/provision")
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "provisions/s")
			b.ReportMetric(float64(p50)/float64(time.Millisecond), "p50-ms")
			b.ReportMetric(float64(p99)/float64(time.Millisecond), "p99-ms")
			b.ReportMetric(float64(s.fake.PeakConcurrency()), "peak-requests")
			switch c.auth {
			case "pat", "lease":
				// One PAT: every call is serialised, so N × calls × latency is the floor.
				b.ReportMetric(float64(elapsed)/(float64(b.N)*calls*perCall), "x-http-bound")
			case "pool":
				// Two PATs: two serialised streams of calls.
				b.ReportMetric(float64(elapsed)/(float64(b.N)*calls*perCall/2), "x-http-bound")
			default:
				// Parallel sessions: one provision's calls × latency is the floor.
				b.ReportMetric(float64(p50)/(calls*perCall), "x-http-bound")
			}
			b.ReportMetric(0, "ns/op") // wall time per provision is not meaningful here
		})
	}
}

// BenchmarkListUsers10k lists one page of 1000 users of a 10,007-user site
// per ListUsers workflow (the CLI walks such pages).
func BenchmarkListUsers10k(b *testing.B) {
	s := startStack(b)
	s.fake.AddUsers(faketableau.SandboxSite, 10000, "Viewer")
	s.fake.SetLatency(*tableauLatency)
	s.fake.ResetCounters()
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Minute)
	defer cancel()
	b.ResetTimer()
	for i := range b.N {
		run, err := s.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("list-%d", i), TaskQueue: workflows.TaskQueue},
			workflows.ListUsersWorkflow, workflows.ListUsersInput{PageNumber: 1 + i%10, PageSize: 1000})
		if err != nil {
			b.Fatal(err)
		}
		var res workflows.ListUsersResult
		if err := run.Get(ctx, &res); err != nil {
			b.Fatal(err)
		}
		if len(res.Users) != 1000 || res.Pagination.TotalAvailable != 10007 {
			b.Fatalf("listed %d of %d users, want a page of 1000 of 10007", len(res.Users), res.Pagination.TotalAvailable)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(s.fake.Count(""))/float64(b.N), "requests/op")
	b.ReportMetric(float64(s.fake.Count("users:list"))/float64(b.N), "pages/op")
}
