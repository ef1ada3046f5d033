package workflows

import (
	"context"
	"errors"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// SendAccess sends ev to the user's access entity on taskQueue's site by
// Update-With-Start (conflict policy use-existing) and waits for its record:
// what starter and an upstream system in Go do.
func SendAccess(ctx context.Context, c client.Client, taskQueue string, in UserAccessInput, ev AccessEvent) (AccessRecord, error) {
	start := EntityStartOptions(taskQueue, in.User)
	return whenNotBusy(ctx, func() (AccessRecord, error) {
		var rec AccessRecord
		h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: c.NewWithStartWorkflowOperation(start, UserAccessWorkflow, in),
			UpdateOptions:          client.UpdateWorkflowOptions{UpdateName: AccessUpdate, Args: []any{ev}, WaitForStage: client.WorkflowUpdateStageCompleted},
		})
		if err == nil {
			err = h.Get(ctx, &rec)
		}
		return rec, err
	})
}

// EntityStartOptions start a user's access entity, or find the running one.
func EntityStartOptions(taskQueue, user string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: UserAccessWorkflowID(taskQueue, user), TaskQueue: taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		Priority:                 PriorityOf(UserAccessWorkflow),
		StaticSummary:            "Tableau access of " + strings.ToLower(strings.TrimSpace(user))}
}

// whenNotBusy calls send until the entity takes the event, backing off:
// an entity that continues as new takes no update for a moment, and
// Temporal lets a workflow have at most 10 updates in flight; both mean
// "not now", never "no".
func whenNotBusy(ctx context.Context, send func() (AccessRecord, error)) (AccessRecord, error) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		rec, err := send()
		if !IsEntityBusy(err) {
			return rec, err
		}
		select {
		case <-ctx.Done():
			return rec, errors.Join(ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// IsEntityBusy says whether err means the entity could not take an update
// now (send it again), rather than that the update was refused.
func IsEntityBusy(err error) bool {
	var exhausted *serviceerror.ResourceExhausted
	var appErr *temporal.ApplicationError
	return errors.As(err, &exhausted) || (errors.As(err, &appErr) && strings.HasPrefix(appErr.Message(), EntityContinuingAsNew))
}
