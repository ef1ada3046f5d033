package app

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/sdk/worker"

	"tabflow/workflows"
)

func TestDecidePromotion(t *testing.T) {
	version := func(buildID string) *worker.WorkerDeploymentVersion {
		return &worker.WorkerDeploymentVersion{DeploymentName: workflows.DeploymentName, BuildID: buildID}
	}
	for _, tc := range []struct {
		name    string
		current *worker.WorkerDeploymentVersion
		want    promotion
	}{
		{"nothing current: a fresh install, or unversioned workers of an older tabflow", nil, promote},
		{"unversioned current", version(""), promote},
		{"an older release is current", version("release-2"), promote},
		{"this release is current", version("release-3"), alreadyCurrent},
		{"a newer release is current: an old pod restarted late never takes the work back", version("release-4"), stayIdle},
		{"a version this rule did not write (set by hand)", version("v1.2.3"), stayIdle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, decidePromotion(tc.current, 3))
		})
	}
}
