// Package serverconfig is the Temporal server's dynamic configuration that
// tabflow's own servers run with (dev, the tests) and that docs/operations.md
// recommends: it links the server, so only they import it.
package serverconfig

import "go.temporal.io/server/common/dynamicconfig"

// Dynamic is the dynamic configuration: one partition per task queue.
// Temporal orders tasks by Priority within a partition, and by default a
// task queue has four, each polled at random; tabflow's work per task queue
// is bounded by Tableau's sessions (a few a second, far below what one
// partition carries), so one partition costs nothing and lets a revoke's
// task overtake every bulk task of the queue (SPEC §3.3).
func Dynamic() dynamicconfig.StaticClient {
	one := []dynamicconfig.ConstrainedValue{{Value: 1}}
	return dynamicconfig.StaticClient{
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  one,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): one,
	}
}
