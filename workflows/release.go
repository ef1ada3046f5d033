package workflows

import (
	"fmt"
	"strconv"
	"strings"
)

// DeploymentName is the Temporal Worker Deployment every tabflow worker of
// a namespace belongs to: one deployment, whatever the task queue, because
// every worker also serves the shared LeaseTaskQueue.
const DeploymentName = "tabflow"

// Release numbers the workflow code's compatibility: bump it whenever new
// code may write something (a child's input, a continue-as-new state, a
// version marker) that the previous release cannot read. Workers of one
// release are one Worker Deployment Version (build ID BuildID()) and may
// run side by side; a newer release takes over all workflow tasks at once
// when its first worker makes itself current (app's promotion), so old
// code never reads what new code wrote. Releases before 1 were unversioned.
const Release = 1

// BuildID is this release's build ID in the Worker Deployment.
func BuildID() string { return buildIDOf(Release) }

func buildIDOf(release int) string { return fmt.Sprintf("release-%d", release) }

// ReleaseOf reads a build ID written by BuildID; ok is false for any other.
func ReleaseOf(buildID string) (release int, ok bool) {
	n, found := strings.CutPrefix(buildID, "release-")
	if !found {
		return 0, false
	}
	r, err := strconv.Atoi(n)
	if err != nil || r < 1 || buildIDOf(r) != buildID {
		return 0, false
	}
	return r, true
}
