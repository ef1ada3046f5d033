package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"tabflow/workflows"
)

// deploymentOptions make a worker one of this release's Worker Deployment
// Version. Every workflow type auto-upgrades: entities and leases live for
// months without continuing as new, so they must move to a new release on
// their next task (their version gates keep replay safe), never stay
// pinned to workers that are gone.
func deploymentOptions() worker.DeploymentOptions {
	return worker.DeploymentOptions{
		UseVersioning:             true,
		Version:                   ownVersion(),
		DefaultVersioningBehavior: workflow.VersioningBehaviorAutoUpgrade,
	}
}

func ownVersion() worker.WorkerDeploymentVersion {
	return worker.WorkerDeploymentVersion{DeploymentName: workflows.DeploymentName, BuildID: workflows.BuildID()}
}

// promotion is what a worker of release own does about the deployment's
// current version (nil: unversioned workers, an older tabflow or none).
type promotion int

const (
	alreadyCurrent promotion = iota
	promote                  // nothing, or an older release, is current: take over
	stayIdle                 // a newer (or foreign) version is current: never undo it
)

func decidePromotion(current *worker.WorkerDeploymentVersion, own int) promotion {
	if current == nil || current.BuildID == "" {
		return promote
	}
	release, ok := workflows.ReleaseOf(current.BuildID)
	switch {
	case !ok:
		return stayIdle
	case release == own:
		return alreadyCurrent
	case release < own:
		return promote
	default:
		return stayIdle
	}
}

// promotionRetry is how often a worker asks again while its version is not
// yet registered (its pollers take a moment to reach the server) or the
// server refuses (a task queue of the current version not yet polled).
const promotionRetry = 2 * time.Second

// promotionPatience is how long refusals are normal (a version registers
// within a second or two of its first poll).
const promotionPatience = 30 * time.Second

// promoteWhenNewer makes this worker's version current if nothing, or an
// older release, is: from then every workflow task (new workflows and the
// next task of every running one) goes to this release, and older workers,
// still running, get none. A worker of an older release started later
// (a crash-looping pod of the previous roll) never takes the work back; a
// rollback is the operator's explicit `temporal worker deployment
// set-current-version`. It returns when the decision is made, or ctx ends.
func promoteWhenNewer(ctx context.Context, c client.Client, logger *slog.Logger) {
	own := ownVersion()
	h := c.WorkerDeploymentClient().GetHandle(own.DeploymentName)
	started, warned := time.Now(), false
	for {
		err := promoteOnce(ctx, h, own, logger)
		if err == nil {
			return
		}
		// At first the version is not registered yet (its pollers are on
		// their way): normal. Still refused after a while, say why once.
		if !warned && time.Since(started) > promotionPatience {
			logger.Warn("this worker's release is still not current; asking again every 2s", "version", versionLabel(own), "reason", err.Error())
			warned = true
		} else {
			logger.Debug("this worker's release is not current yet; asking again", "version", versionLabel(own), "reason", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(promotionRetry):
		}
	}
}

// promoteOnce returns nil once the decision is made (and carried out).
func promoteOnce(ctx context.Context, h client.WorkerDeploymentHandle, own worker.WorkerDeploymentVersion, logger *slog.Logger) error {
	desc, err := h.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	if err != nil {
		return err
	}
	current := desc.Info.RoutingConfig.CurrentVersion
	switch decidePromotion(current, workflows.Release) {
	case alreadyCurrent:
		logger.Info("this worker's release is the deployment's current version", "version", versionLabel(own))
		return nil
	case stayIdle:
		logger.Warn("a newer version is current: this worker gets no workflow tasks; to roll back, run `temporal worker deployment set-current-version`",
			"version", versionLabel(own), "current", versionLabel(*current))
		return nil
	}
	if _, err := h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: own.BuildID, ConflictToken: desc.ConflictToken}); err != nil {
		return fmt.Errorf("making %s current: %w", own.BuildID, err)
	}
	from := "unversioned workers"
	if current != nil {
		from = versionLabel(*current)
	}
	logger.Info("made this worker's release the deployment's current version: every workflow task now comes here", "version", versionLabel(own), "previous", from)
	return nil
}

// versionLabel is a version as the temporal CLI and UI show it.
func versionLabel(v worker.WorkerDeploymentVersion) string { return v.DeploymentName + "." + v.BuildID }
