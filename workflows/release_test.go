package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReleaseOfReadsOnlyWhatBuildIDWrites(t *testing.T) {
	r, ok := ReleaseOf(BuildID())
	assert.True(t, ok)
	assert.Equal(t, Release, r)
	for _, id := range []string{"", "release-", "release-0", "release-01", "release-x", "v1", "release-2-hotfix"} {
		_, ok := ReleaseOf(id)
		assert.False(t, ok, id)
	}
}
