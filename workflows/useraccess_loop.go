package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"tabflow/internal/clip"
	"tabflow/tableau"
)

// What every version of the access entity does the same way: wait, answer
// updates, continue as new, register its handlers, refuse a misrouted ID.
// The frozen version-2 rules (useraccess_v2*.go) use these too, so a change
// here must keep their replays (workflows/testdata) passing.

// misrouted says why an entity whose ID is not the one for its task queue
// and user applies nothing. The legacy per-user ID is no misroute: version
// 2 ran under it, and the current rules hand such a run's memory over
// before they get here.
func misrouted(ctx workflow.Context, user string) string {
	info := workflow.GetInfo(ctx)
	id, want := info.WorkflowExecution.ID, UserAccessWorkflowID(info.TaskQueueName, user)
	if id == want || id == legacyUserAccessWorkflowID(user) {
		return ""
	}
	return fmt.Sprintf("this entity's ID %q does not match its task queue %q and user: the entity for that site and user is %q, so no event is applied here",
		clip.Text(id, 120), info.TaskQueueName, clip.Text(want, 120))
}

// registerAccess registers what every entity version answers: its history
// and grants queries and the access update.
func registerAccess[E any](ctx workflow.Context, st *UserAccessState, grants func() []Grant,
	onUpdate func(workflow.Context, E) (AccessRecord, error), validate func(workflow.Context, E) error) error {
	if err := workflow.SetQueryHandler(ctx, HistoryQuery, st.historyPage); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, GrantsQuery, func() ([]Grant, error) { return inSeconds(grants()), nil }); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, ExpectedQuery, func() (tableau.SiteRole, error) { return expectedRole(grants()), nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, AccessUpdate, onUpdate, workflow.UpdateHandlerOptions{Validator: validate})
}

// inSeconds shows grants' times to the second, as the records that gave
// them say them (an expiry counted from an event's arrival has nanoseconds).
func inSeconds(grants []Grant) []Grant {
	second := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		s := t.Truncate(time.Second)
		return &s
	}
	out := slices.Clone(grants)
	for i := range out {
		out[i].ExpiresAt, out[i].RetryAt = second(out[i].ExpiresAt), second(out[i].RetryAt)
	}
	return out
}

// awaitAnswer waits for the record that answers an update's ticket.
func awaitAnswer(ctx workflow.Context, answers map[int]*AccessRecord, ticket int) (AccessRecord, error) {
	if err := workflow.Await(ctx, func() bool { return answers[ticket] != nil }); err != nil {
		return AccessRecord{}, err
	}
	rec := *answers[ticket]
	delete(answers, ticket)
	return rec, nil
}

// awaitUntil waits for ready, or until next if there is one. Entities of
// every version wait this way.
func awaitUntil(ctx workflow.Context, next *time.Time, ready func() bool) error {
	if next == nil {
		return workflow.Await(ctx, ready)
	}
	_, err := workflow.AwaitWithTimeout(ctx, max(next.Sub(workflow.Now(ctx)), time.Millisecond), ready)
	return err
}

// runIsFull says an entity's run should continue as new: Temporal suggests
// it, its history is long, or it handled maxEventsPerRun events.
func runIsFull(ctx workflow.Context, maxEventsPerRun, handled int) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > maxRunEvents ||
		info.GetCurrentHistorySize() > maxRunBytes || (maxEventsPerRun > 0 && handled >= maxEventsPerRun)
}

// answerEveryUpdate applies queued events while an update waits for its
// answer, until every update handler has finished.
func answerEveryUpdate(ctx workflow.Context, hasTicket func() bool, applyNext func(workflow.Context)) error {
	for {
		for hasTicket() {
			applyNext(ctx)
		}
		if workflow.AllHandlersFinished(ctx) {
			return nil
		}
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) || hasTicket() }); err != nil {
			return err
		}
	}
}

// continueWith continues the entity as new with its memory, in the current
// version (a version 1 or 2 run upgrades here).
func continueWith(ctx workflow.Context, in UserAccessInput, st *UserAccessState, forget bool) error {
	st.Forget = forget
	in.State = st
	in.IdleTimeout = ""
	return workflow.NewContinueAsNewError(ctx, UserAccessWorkflow, in)
}

// eachBuffered calls fn with every signal buffered on ch, each decoded into
// a fresh value, without waiting for more.
func eachBuffered[E any](ch workflow.ReceiveChannel, fn func(E)) {
	for {
		var ev E
		if !ch.ReceiveAsync(&ev) {
			return
		}
		fn(ev)
	}
}
