package serverconfig

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
)

// partitions reads the task queue's read and write partitions for a
// namespace from a dynamic configuration, as the matching service does.
func partitions(t *testing.T, c dynamicconfig.Client, taskQueue string) (read, write int) {
	col := dynamicconfig.NewCollection(c, log.NewNoopLogger())
	col.Start()
	t.Cleanup(col.Stop)
	read = dynamicconfig.MatchingNumTaskqueueReadPartitions.Get(col)("tabflow", taskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	write = dynamicconfig.MatchingNumTaskqueueWritePartitions.Get(col)("tabflow", taskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	return read, write
}

// The file compose mounts into the Temporal server, read by the server's
// own file-based client, gives tabflow's task queue one partition and
// leaves other queues alone; tabflow's own servers run with one too.
func TestTheDeployedDynamicConfigGivesTheTaskQueueOnePartition(t *testing.T) {
	done := make(chan any)
	defer close(done)
	file, err := dynamicconfig.NewFileBasedClient(&dynamicconfig.FileBasedClientConfig{Filepath: "../../deploy/temporal-dynamicconfig.yaml", PollInterval: time.Minute}, log.NewNoopLogger(), done)
	require.NoError(t, err)
	read, write := partitions(t, file, "tableau")
	assert.Equal(t, [2]int{1, 1}, [2]int{read, write}, "tabflow's task queue: one partition")
	read, write = partitions(t, file, "someone-else")
	assert.Equal(t, [2]int{4, 4}, [2]int{read, write}, "other task queues keep Temporal's default")

	read, write = partitions(t, Dynamic(), "tableau")
	assert.Equal(t, [2]int{1, 1}, [2]int{read, write}, "dev and the tests run as deployed")
}
