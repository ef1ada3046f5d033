package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/tableau"
)

// apply decides one queued event against the entity's memory and carries it out.
func (e *entity) apply(ctx workflow.Context, q queued) AccessRecord {
	rec := e.newRecord(q.PendingEvent, "", "")
	if outcome, why := e.st.moot(q.ev, workflow.Now(ctx)); outcome != "" {
		rec.Outcome, rec.Message = outcome, why
		if outcome == OutcomeExpired {
			e.remember(q) // its time is over: a redelivery changes nothing either
		}
		return rec
	}
	switch q.ev.op {
	case OpRevoke:
		if e.carryOut(ctx, &rec, e.st.planRevoke(q.ev.role, true), OpRevoke) {
			e.remember(q)
		}
		return rec
	case OpReconcile:
		if e.legacy {
			c := e.st.planReconcileLegacy()
			rec.Role = string(c.role)
			if e.carryOut(ctx, &rec, c, OpReconcile) {
				e.remember(q)
				rec.Message = fmt.Sprintf("reconcile (plan %s): %s", capText(q.ev.requestID, 64), rec.Message)
			}
			return rec
		}
		rec.Role = string(q.ev.expected)
		c, why := e.st.planReconcile(q.ev.expected, q.ev.actual)
		if why != "" {
			rec.Outcome, rec.Message = OutcomeStale, why
		}
		if why != "" || e.carryOut(ctx, &rec, c, OpReconcile) {
			e.remember(q)
		}
		rec.Message = fmt.Sprintf("reconcile (plan %s, %s → %s): %s", capText(q.ev.requestID, 64), capText(q.ev.actual, 64), q.ev.expected, rec.Message)
		return rec
	}
	c := e.st.planGrant(Grant{Role: q.ev.role, ExpiresAt: q.ev.expiresAt, RequestID: q.ev.requestID})
	if !e.carryOut(ctx, &rec, c, OpGrant) {
		return rec // not remembered: a redelivery may succeed
	}
	e.remember(q)
	if after := tableau.SiteRole(rec.RoleAfter); after != q.ev.role {
		rec.Message = fmt.Sprintf("%s grant held; the user keeps the higher %s. %s", q.ev.role, after, rec.Message)
	}
	switch kept := c.kept; {
	case kept.ExpiresAt == nil && q.ev.expiresAt != nil:
		rec.Message += fmt.Sprintf(" (the %s grant is held until revoked: a time-bound grant does not shorten it)", kept.Role)
	case kept.ExpiresAt != nil:
		rec.ExpiresAt = kept.ExpiresAt.Format(time.RFC3339)
		rec.Message += fmt.Sprintf(" (the %s grant expires at %s)", kept.Role, rec.ExpiresAt)
	}
	return rec
}

// remember keeps the memory of an applied event and of those folded into it.
func (e *entity) remember(q queued) {
	e.st.remember(q.ev)
	e.st.rememberFolded(q.ev.role, q.Folded)
}

// carryOut asks Tableau for c through a Provision or Deprovision child and,
// only if it succeeds, keeps c's memory: a failure leaves the memory as it
// was, matching Tableau.
func (e *entity) carryOut(ctx workflow.Context, rec *AccessRecord, c change, op Op) bool {
	if waited := workflow.Now(ctx).Sub(rec.ReceivedAt); waited > 0 {
		rec.Waited = waited.Round(time.Millisecond).String()
	}
	cctx := e.childCtx(ctx, rec.Seq, op, c.role)
	var res RoleResult
	var err error
	switch c.op {
	case OpGrant:
		err = e.awaitChild(ctx, workflow.ExecuteChildWorkflow(cctx, ProvisionWorkflow, ProvisionInput{User: e.in.User, Role: string(c.role), KeepHigher: true}), &res)
	case OpReconcile:
		err = e.awaitChild(ctx, workflow.ExecuteChildWorkflow(cctx, SetSiteRoleWorkflow, SetSiteRoleInput{User: e.in.User, Role: string(c.role), IfRole: string(c.ifRole), KeepHigher: c.keepHigher}), &res)
	default:
		in := DeprovisionInput{User: e.in.User, Role: string(c.role)}
		if c.fallback != tableau.RoleUnlicensed {
			in.FallbackRole = string(c.fallback)
		}
		var dres DeprovisionResult
		err = e.awaitChild(ctx, workflow.ExecuteChildWorkflow(cctx, DeprovisionWorkflow, in), &dres)
		res = RoleResult{PreviousRole: dres.PreviousRole, Role: dres.Role, Changed: dres.Changed, Message: dres.Message, Warnings: dres.Warnings}
	}
	if err != nil {
		rec.Outcome, rec.Message = OutcomeFailed, activities.RootMessage(err)
		return false
	}
	if c.ifRole != "" && res.PreviousRole != string(c.ifRole) {
		rec.Outcome, rec.RoleBefore, rec.RoleAfter = OutcomeStale, res.PreviousRole, res.PreviousRole
		rec.Message = fmt.Sprintf("Tableau shows %s, not the planned %s: nothing changed", capText(res.PreviousRole, 64), capText(c.ifRole, 64))
		return true
	}
	rec.Warnings = append(res.Warnings, e.st.commit(c, tableau.SiteRole(res.PreviousRole))...)
	rec.RoleBefore, rec.RoleAfter, rec.Message = res.PreviousRole, res.Role, res.Message
	rec.Outcome = OutcomeUnchanged
	if res.Changed {
		rec.Outcome = OutcomeApplied
		// From the event's arrival to Tableau's write, by op: the figure
		// "revokes first" is about (tabflow_access_latency_seconds).
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"op": string(op)}).
			Timer(AccessLatencyMetric).Record(workflow.Now(ctx).Sub(rec.ReceivedAt))
	}
	return true
}

// expire revokes a time-bound grant whose time is up (outcome expired): the
// user returns to the highest of the baseline and the grants still held.
func (e *entity) expire(ctx workflow.Context, g Grant) {
	rec := e.newRecord(PendingEvent{Event: AccessEvent{Op: OpRevoke, Role: string(g.Role)}, ReceivedAt: workflow.Now(ctx)}, "", "")
	rec.ExpiresAt = g.ExpiresAt.Format(time.RFC3339)
	c := e.st.planRevoke(g.Role, false)
	switch {
	case c.held:
		e.st.commit(c, "")
		rec.Outcome = OutcomeExpired
		rec.Message = fmt.Sprintf("the %s grant expired at %s; the user keeps %s, given in Tableau: nothing changed", g.Role, rec.ExpiresAt, g.Role)
	case e.carryOut(ctx, &rec, c, "expire"):
		rec.Outcome = OutcomeExpired
		rec.Message = fmt.Sprintf("the %s grant expired at %s: %s", g.Role, rec.ExpiresAt, rec.Message)
	default:
		retry := workflow.Now(ctx).Add(expiryRetryDelay)
		for i := range e.st.Grants {
			if e.st.Grants[i].Role == g.Role {
				e.st.Grants[i].RetryAt = &retry
			}
		}
		rec.Message = fmt.Sprintf("revoking the expired %s grant failed (next try at %s): %s", g.Role, retry.Format(time.RFC3339), rec.Message)
	}
	e.answer(ctx, rec, 0)
}

// childCtx names the child that carries out access event seq, sums it up
// for the Temporal UI ("ana@example.com: grant Explorer (access event 3)"),
// and gives it its event's urgency: a revoke's child and its activities go
// before a bulk's in every task queue.
func (e *entity) childCtx(ctx workflow.Context, seq int, op Op, role tableau.SiteRole) workflow.Context {
	return workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:    fmt.Sprintf("%s/%d-%s", workflow.GetInfo(ctx).WorkflowExecution.ID, seq, op),
		StaticSummary: fmt.Sprintf("%s: %s %s (access event %d)", e.in.User, op, role, seq),
		Priority:      temporal.Priority{PriorityKey: eventUrgency(op)},
	})
}

// handOverLegacy ends an entity with version 1's per-user ID
// (tableau-access/{user}) that continued as new into this code, so one user
// has one memory per site: it starts the per-site entity with its memory,
// or, when that entity already runs, sends it the grants it holds and the
// events it has not applied, as access signals.
func handOverLegacy(ctx workflow.Context, in UserAccessInput) (*UserAccessResult, error) {
	st := in.State
	if st == nil {
		st = &UserAccessState{}
	}
	target := UserAccessWorkflowID(workflow.GetInfo(ctx).TaskQueueName, in.User)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: target, ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		StaticSummary: EntityStartOptions(workflow.GetInfo(ctx).TaskQueueName, in.User).StaticSummary})
	err := workflow.ExecuteChildWorkflow(cctx, UserAccessWorkflow, UserAccessInput{User: in.User, State: st}).GetChildWorkflowExecution().Get(ctx, nil)
	if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		err = forwardMemory(ctx, target, st)
	}
	if err != nil {
		return nil, err
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s · memory handed over to %s", in.User, target))
	return &UserAccessResult{User: in.User, Events: st.Seq, Grants: st.Grants, History: st.History}, nil
}

// forwardMemory sends st's grants and pending events to a running entity.
func forwardMemory(ctx workflow.Context, target string, st *UserAccessState) error {
	for _, ev := range memoryEvents(st, workflow.Now(ctx)) {
		if err := workflow.SignalExternalWorkflow(ctx, target, "", AccessSignal, ev).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// memoryEvents are the access events that hand st's grants and pending
// events to another entity. A time-bound grant whose expiry came during the
// hand-over is sent as a grant that runs out at once, so the receiver
// revokes it as an expiry would: back to the baseline, which an explicit
// revoke would remove.
func memoryEvents(st *UserAccessState, now time.Time) []AccessEvent {
	var events []AccessEvent
	for _, g := range st.Grants {
		ev := AccessEvent{Op: OpGrant, Role: string(g.Role)}
		switch {
		case g.ExpiresAt == nil:
		case g.ExpiresAt.After(now):
			ev.ExpiresAt = g.ExpiresAt.Format(time.RFC3339)
		default:
			ev.Duration = "1s"
		}
		events = append(events, ev)
	}
	for _, p := range st.Pending {
		events = append(events, p.Event)
	}
	return events
}
