package workflows_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"tabflow/testsuite"
)

// TestReplayRecordedHistories replays histories recorded on a real Temporal
// server (see testsuite/e2e TestHistoriesReplay): a change that makes the
// workflows non-deterministic for runs already in flight fails here.
func TestReplayRecordedHistories(t *testing.T) {
	for file, workflowID := range testsuite.RecordedHistories {
		t.Run(file, func(t *testing.T) {
			assert.NoError(t, testsuite.ReplayHistoryFile(filepath.Join("testdata", file), workflowID))
		})
	}
}
