package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"tabflow/workflows"
)

// cmdReconcile runs Reconcile: a plan (default), --apply (mode auto) or
// --approve; `reconcile approve` approves a published plan, `reconcile
// schedule` makes plan runs a Temporal Schedule.
func cmdReconcile(a *cli, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "approve":
			return a.reconcileApprove(args[1:])
		case "schedule":
			return a.reconcileSchedule(args[1:])
		}
	}
	fs := a.flags("reconcile")
	apply := fs.Bool("apply", false, "apply at once (mode auto), only if the changes are at most --max-changes")
	approve := fs.Bool("approve", false, "publish the plan and wait (in Temporal) for its approval; prints the plan and how to approve it")
	maxChanges := fs.Int("max-changes", 25, "with --apply: apply nothing when more users drifted than this")
	inactiveDays := fs.Int("inactive-days", 0, "also list managed users who have not signed in for this many days (reported, never changed)")
	within := fs.Duration("approve-within", 24*time.Hour, "with --approve: how long the plan waits for approval")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	in := workflows.ReconcileInput{Mode: workflows.ReconcilePlanOnly, MaxChanges: maxChanges, InactiveDays: *inactiveDays}
	switch {
	case *apply && *approve:
		return a.usageError("reconcile: give --apply or --approve, not both")
	case *apply:
		in.Mode = workflows.ReconcileAuto
	case *approve:
		in.Mode, in.ApproveWithin = workflows.ReconcileApprove, within.String()
		return a.reconcilePublish(in)
	}
	var plan workflows.ReconcilePlan
	return a.execute(workflows.ReconcileWorkflow, a.workflowID("reconcile", a.taskQueue), in, &plan, func(w io.Writer) { showPlan(w, plan) })
}

// reconcilePublish starts an approve-mode run and prints its plan once built.
func (a *cli) reconcilePublish(in workflows.ReconcileInput) int {
	if code, bad := a.invalid(workflows.ReconcileWorkflow, in); bad {
		return code
	}
	c, ctx, done, ok := a.connect()
	if !ok {
		return exitFailed
	}
	defer done()
	id := a.workflowID("reconcile", a.taskQueue)
	if _, err := a.start(ctx, c, workflows.ReconcileWorkflow, id, in); err != nil {
		return a.printStartFailure(ctx, err, workflows.ReconcileWorkflow, id)
	}
	var plan workflows.ReconcilePlan
	for {
		v, err := c.QueryWorkflow(ctx, id, "", workflows.PlanQuery)
		if err == nil && v.Get(&plan) == nil {
			break
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(a.errOut, "error: the plan of %s was not ready after %s: %v\n", id, a.timeout, err)
			return exitTimeout
		case <-time.After(500 * time.Millisecond):
		}
	}
	return a.print(plan, func(w io.Writer) {
		showPlan(w, plan)
		fmt.Fprintf(w, "\nNothing is applied until the plan is approved (within %s):\n  starter reconcile approve --id %s --plan-id %s\n"+
			"or in the Temporal UI: workflow %s → Send an Update \"approve\" with {\"planId\":%q}\n", in.ApproveWithin, id, plan.PlanID, id, plan.PlanID)
	})
}

// reconcileApprove approves a published plan and prints what was applied.
func (a *cli) reconcileApprove(args []string) int {
	fs := a.flags("reconcile approve")
	planID := fs.String("plan-id", "", "the ID of the plan you reviewed")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if a.id == "" || *planID == "" {
		return a.usageError("reconcile approve: --id (the Reconcile workflow) and --plan-id are required")
	}
	c, ctx, done, ok := a.connect()
	if !ok {
		return exitFailed
	}
	defer done()
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: a.id, UpdateName: workflows.ApproveUpdate,
		Args: []any{workflows.ApproveInput{PlanID: *planID}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		if over, ok := a.runEnded(ctx, c); ok {
			fmt.Fprintf(a.errOut, "error: %s is no longer waiting for approval: %s\nMake a new plan with: starter reconcile --approve\n", a.id, over)
			return exitFailed
		}
		return a.printFailure(ctx, err, a.id)
	}
	var plan workflows.ReconcilePlan
	if err := c.GetWorkflow(ctx, a.id, "").Get(ctx, &plan); err != nil {
		return a.printFailure(ctx, err, a.id)
	}
	return a.print(plan, func(w io.Writer) { showPlan(w, plan) })
}

// runEnded says how the Reconcile run --id ended, if it has: an approval
// sent after its deadline (or twice) reaches a closed run, which Temporal
// words as "workflow execution already completed".
func (a *cli) runEnded(ctx context.Context, c client.Client) (string, bool) {
	d, err := c.DescribeWorkflowExecution(ctx, a.id, "")
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return "", false
	}
	var plan workflows.ReconcilePlan
	if c.GetWorkflow(ctx, a.id, "").Get(ctx, &plan) == nil && plan.Message != "" {
		return "the run ended: " + plan.Message, true
	}
	return "the run " + strings.ToLower(strings.TrimPrefix(d.GetWorkflowExecutionInfo().GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")), true
}

// reconcileSchedule creates a Temporal Schedule of plan runs.
func (a *cli) reconcileSchedule(args []string) int {
	fs := a.flags("reconcile schedule")
	every := fs.Duration("every", 0, "how often to run a plan, e.g. 1h")
	inactiveDays := fs.Int("inactive-days", 0, "also list users inactive for this many days")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if *every < time.Minute {
		return a.usageError("reconcile schedule: --every must be at least 1m (e.g. 1h)")
	}
	in := workflows.ReconcileInput{Mode: workflows.ReconcilePlanOnly, InactiveDays: *inactiveDays}
	if code, bad := a.invalid(workflows.ReconcileWorkflow, in); bad {
		return code
	}
	c, ctx, done, ok := a.connect()
	if !ok {
		return exitFailed
	}
	defer done()
	id := a.id
	if id == "" {
		id = "tabflow-reconcile/" + a.taskQueue
	}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      id,
		Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: *every}}},
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{ID: "reconcile/" + a.taskQueue, Workflow: workflows.ReconcileWorkflow, TaskQueue: a.taskQueue,
			Args: []any{in}, Priority: workflows.PriorityOf(workflows.ReconcileWorkflow), StaticSummary: summary(workflows.ReconcileWorkflow, in) + " (scheduled every " + every.String() + ")"},
	})
	if err != nil {
		return a.printFailure(ctx, err, id)
	}
	fmt.Fprintf(a.out, "schedule %s created: a Reconcile plan every %s on task queue %s; each run's current details say how many users drifted\n", id, every, a.taskQueue)
	return exitOK
}

// showPlan prints a plan as a person reads it.
func showPlan(w io.Writer, p workflows.ReconcilePlan) {
	fmt.Fprintf(w, "plan %s: %s\n", p.PlanID, p.Message)
	if len(p.Changes) > 0 {
		fmt.Fprintln(w, "\ndrifted:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  USER\tEXPECTED\tTABLEAU")
		for _, c := range p.Changes {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.User, c.Expected, c.Actual)
		}
		tw.Flush()
		for _, c := range p.Changes { // what may undo a change, where the admin decides on it
			for _, warning := range c.Warnings {
				fmt.Fprintf(w, "  warning for %s: %s\n", c.User, warning)
			}
		}
	}
	if p.Unmanaged.Count > 0 {
		fmt.Fprintf(w, "\nlicensed without an entity (%d; first %d):\n", p.Unmanaged.Count, len(p.Unmanaged.Users))
		for _, u := range p.Unmanaged.Users {
			fmt.Fprintf(w, "  %s %s\n", u.User, u.Role)
		}
	}
	if len(p.Inactive) > 0 {
		fmt.Fprintln(w, "\ninactive:")
		for _, u := range p.Inactive {
			last := u.LastLogin
			if last == "" {
				last = "never signed in"
			}
			fmt.Fprintf(w, "  %s %s (%s)\n", u.User, u.Role, last)
		}
	}
	for _, f := range p.Failed {
		fmt.Fprintf(w, "failed: %s\n", f)
	}
}
