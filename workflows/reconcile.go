package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/internal/clip"
	"tabflow/internal/words"
	"tabflow/tableau"
)

// Reconcile modes.
const (
	ReconcilePlanOnly = "plan"    // report, change nothing
	ReconcileApprove  = "approve" // publish the plan, apply once approved
	ReconcileAuto     = "auto"    // apply at once, if within maxChanges
)

// ErrTooManyChanges is auto mode refusing a mass change nobody meant.
const ErrTooManyChanges = "ReconcileTooManyChanges"

// ReconcileInput: {"mode":"plan"|"approve"|"auto","maxChanges":25,"inactiveDays":0,"approveWithin":"24h"}.
type ReconcileInput struct {
	Mode          string `json:"mode,omitempty"`
	MaxChanges    *int   `json:"maxChanges,omitempty"`
	InactiveDays  int    `json:"inactiveDays,omitempty"`
	ApproveWithin string `json:"approveWithin,omitempty"`
	// Progress is the plan so far, carried by continue-as-new.
	Progress *ReconcileProgress `json:"progress,omitempty"`
	inputProblems
}

// ApproveInput approves a published plan: {"planId":"…"}.
type ApproveInput struct {
	PlanID string `json:"planId"`
	inputProblems
}

const (
	defaultMaxChanges    = 25
	defaultApproveWithin = 24 * time.Hour
	reconcilePageSize    = tableau.MaxPageSize
	maxReconcilePages    = 2_000 // 2,000,000 users: tableau.WalkUsers' ceiling
	// pagesPerRun is how many pages a run compares before it continues as
	// new with the plan so far: history stays bounded on a site of any size.
	pagesPerRun = 100
)

// Reconcile compares, for every running access entity of its task queue,
// the role its grants call for with the role Tableau shows, and applies the
// differences through the entities (SPEC §3.2).
func Reconcile(ctx workflow.Context, in ReconcileInput) (*ReconcilePlan, error) {
	maxChanges, within, err := in.check()
	if err != nil {
		return nil, err
	}
	var plan *ReconcilePlan
	if err := workflow.SetQueryHandler(ctx, PlanQuery, func() (*ReconcilePlan, error) {
		if plan == nil {
			return nil, fmt.Errorf("the plan is still being built")
		}
		return plan, nil
	}); err != nil {
		return nil, err
	}
	var built ReconcilePlan
	if workflow.GetVersion(ctx, reconcileComparePatch, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		built, err = buildPlanLegacy(ctx, in.InactiveDays)
	} else {
		built, err = buildPlan(ctx, in)
	}
	if err != nil { // a continue-as-new too
		return nil, err
	}
	plan = &built
	workflow.SetCurrentDetails(ctx, plan.Message)
	switch mode := in.Mode; {
	case mode == ReconcilePlanOnly || mode == "":
		plan.Message += ". Plan only: nothing changed"
		return plan, nil
	case mode == ReconcileAuto && plan.Drifted > maxChanges:
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s, more than maxChanges %d: nothing applied (%s)", words.Count(plan.Drifted, "change"), maxChanges, plan.Message), ErrTooManyChanges, nil)
	case mode == ReconcileApprove && !awaitApproval(ctx, plan, within):
		plan.Message += fmt.Sprintf(". Not approved within %s: nothing applied", within)
		return plan, nil
	}
	// The UI's current details follow the run: applying takes a while, and
	// the plan query shows applied 0 until each entity has answered.
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s. Applying %s through the entities…", plan.Message, words.Count(len(plan.Changes), "change")))
	applyPlan(ctx, plan)
	workflow.SetCurrentDetails(ctx, plan.Message)
	return plan, nil
}

// Validate checks the input as Reconcile does before it reads anything.
func (in ReconcileInput) Validate() error {
	_, _, err := in.check()
	return err
}

func (in ReconcileInput) check() (maxChanges int, within time.Duration, err error) {
	p := problems(in.problems)
	switch in.Mode {
	case "", ReconcilePlanOnly, ReconcileApprove, ReconcileAuto:
	default:
		p.add("mode", "%q must be plan, approve or auto", clip.Text(in.Mode, 64))
	}
	maxChanges = defaultMaxChanges
	if in.MaxChanges != nil {
		if maxChanges = *in.MaxChanges; maxChanges < 0 {
			p.add("maxChanges", "must not be negative")
		}
	}
	if in.InactiveDays < 0 {
		p.add("inactiveDays", "must not be negative")
	}
	within = defaultApproveWithin
	if in.ApproveWithin != "" {
		if d, perr := time.ParseDuration(in.ApproveWithin); perr != nil || d <= 0 {
			p.add("approveWithin", "%q must be a positive Go duration such as 24h", clip.Text(in.ApproveWithin, 64))
		} else {
			within = d
		}
	}
	return maxChanges, within, p.err()
}

// buildPlan compares Tableau's users with the entities a page (one
// activity) at a time. After pagesPerRun pages it continues as new with the
// plan so far (the error it returns); the plan ID is the first run's ID.
func buildPlan(ctx workflow.Context, in ReconcileInput) (ReconcilePlan, error) {
	info := workflow.GetInfo(ctx)
	p := in.Progress
	if p == nil {
		entities, err := runRead[int](ctx, a.CountEntities, activities.CountEntitiesInput{TaskQueue: info.TaskQueueName, IDPrefix: UserAccessWorkflowID(info.TaskQueueName, "")})
		if err != nil {
			return ReconcilePlan{}, err
		}
		p = newProgress(info.WorkflowExecution.RunID, *entities, workflow.Now(ctx), in.InactiveDays)
	}
	for pages := 0; p.NextPage <= maxReconcilePages; pages++ {
		if pages == pagesPerRun {
			in.Progress = p
			return ReconcilePlan{}, workflow.NewContinueAsNewError(ctx, ReconcileWorkflow, in)
		}
		page, err := runRead[activities.UsersComparison](ctx, a.CompareUsers, p.next(info.TaskQueueName, reconcilePageSize))
		if err != nil {
			return ReconcilePlan{}, err
		}
		if !p.add(*page, reconcilePageSize) {
			break
		}
	}
	return p.finish(), nil
}

// awaitApproval publishes the plan and waits for the approve update with
// its ID; false when the time runs out.
func awaitApproval(ctx workflow.Context, plan *ReconcilePlan, within time.Duration) bool {
	approved := false
	if err := workflow.SetUpdateHandlerWithOptions(ctx, ApproveUpdate, func(ctx workflow.Context, in ApproveInput) (string, error) {
		approved = true
		return fmt.Sprintf("plan %s approved: applying %s", plan.PlanID, words.Count(len(plan.Changes), "change")), nil
	}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, in ApproveInput) error {
		if err := problems(in.problems).err(); err != nil {
			return err
		}
		switch {
		case in.PlanID == "":
			return newInvalidInput("planId is required: query plan for the plan this run waits to have approved, review it, and approve it by its planId")
		case in.PlanID != plan.PlanID:
			return newInvalidInput(fmt.Sprintf("planId %q is not the plan this run waits for: query plan, review it, and approve it by its planId", clip.Text(in.PlanID, 64)))
		case approved:
			return newInvalidInput("plan " + plan.PlanID + " is already approved")
		}
		return nil
	}}); err != nil {
		return false
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s. Waiting up to %s for approval of plan %s", plan.Message, within, plan.PlanID))
	ok, err := workflow.AwaitWithTimeout(ctx, within, func() bool { return approved })
	return err == nil && ok
}

// applyPlan sends each change to the user's entity as a reconcile event, so
// it is ordered with the user's grants and revokes; the entity changes the
// role only if Tableau still shows the plan's actual role and the grants
// still call for its expected one (SPEC §3.2).
func applyPlan(ctx workflow.Context, plan *ReconcilePlan) {
	taskQueue := workflow.GetInfo(ctx).TaskQueueName
	stale, warned := 0, 0
	for i, c := range plan.Changes {
		event, _ := json.Marshal(AccessEvent{Op: OpReconcile, RequestID: plan.PlanID, Expected: c.Expected, Actual: c.Actual})
		in := activities.SendToEntityInput{WorkflowID: UserAccessWorkflowID(taskQueue, c.User), UpdateName: AccessUpdate, Event: event}
		rec, err := runWith[AccessRecord](ctx, accessActivity, a.SendToEntity, in)
		switch {
		case err != nil:
			plan.Failed = append(plan.Failed, fmt.Sprintf("%s: %s", c.User, capText(activities.RootMessage(err), 300)))
		case rec.Outcome == OutcomeApplied:
			plan.Applied++
			// What the entity read as it lowered the role is newer than
			// what the plan read: the admin sees that, in the result.
			plan.Changes[i].Warnings = rec.Warnings
			if len(rec.Warnings) > 0 {
				warned++
			}
		case rec.Outcome == OutcomeStale:
			stale++
		case rec.Outcome == OutcomeFailed || rec.Outcome == OutcomeRejected:
			plan.Failed = append(plan.Failed, fmt.Sprintf("%s: %s", c.User, capText(rec.Message, 300)))
		}
	}
	plan.Message += fmt.Sprintf(". Applied %d of %s through the entities", plan.Applied, words.Count(len(plan.Changes), "change"))
	if stale > 0 {
		plan.Message += fmt.Sprintf(" (%d stale: Tableau or the grants changed since the plan, so nothing was changed for them)", stale)
	}
	if len(plan.Failed) > 0 {
		plan.Message += fmt.Sprintf(" (%d failed)", len(plan.Failed))
	}
	if warned > 0 {
		plan.Message += fmt.Sprintf(" (%s with warnings: a group or an identity provider may undo them, see each change)", words.Count(warned, "change"))
	}
}
