package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/tableau"
)

// Version 1's bounds and idle timeout.
const (
	defaultIdleTimeout = 10 * time.Minute
	maxRequestIDsV1    = 5000
)

// accessEventV1 is the access event as version 1 decoded it, frozen: a field
// added later (duration, expiresAt, …) is an unknown field here, so a
// version 1 run replays the rejection it recorded.
type accessEventV1 struct {
	Op        Op     `json:"op"`
	Role      string `json:"role"`
	RequestID string `json:"requestId,omitempty"`
	At        string `json:"at,omitempty"`
	inputProblems
}

// userAccessV1 is UserAccess as it ran before the access entity learned to
// remember grants and answer updates (patch accessEntityPatch). It is kept,
// unchanged in what it asks of Temporal, only so that runs started by that
// version replay and finish: they go idle after idleTimeout, or continue as
// new into the current code. Delete it once no such run is left (a
// `temporal workflow list --query 'WorkflowType="UserAccess"'` older than the
// upgrade shows none).
func userAccessV1(ctx workflow.Context, in UserAccessInput) (*UserAccessResult, error) {
	p := problems(in.problems)
	p.checkUserName("user", in.User)
	idle := defaultIdleTimeout
	if in.IdleTimeout != "" {
		d, err := time.ParseDuration(in.IdleTimeout)
		if err != nil || d <= 0 {
			p.add("idleTimeout", "%q must be a positive duration such as 10m", in.IdleTimeout)
		}
		idle = d
	}
	if in.MaxEventsPerRun < 0 {
		p.add("maxEventsPerRun", "must not be negative")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	st := in.State
	if st == nil {
		st = &UserAccessState{}
	}
	st.seenRequestIDs = map[string]bool{}
	for _, id := range st.RequestIDs {
		st.seenRequestIDs[id] = true
	}
	if err := workflow.SetQueryHandler(ctx, HistoryQuery, func() ([]AccessRecord, error) { return st.History, nil }); err != nil {
		return nil, err
	}

	signals := workflow.GetSignalChannel(ctx, AccessSignal)
	handled := 0
	drain := func() {
		var ev accessEventV1
		for signals.ReceiveAsync(&ev) {
			st.handleV1(ctx, in.User, ev)
			handled++
			ev = accessEventV1{}
		}
	}
	for {
		var ev accessEventV1
		if got, _ := signals.ReceiveWithTimeout(ctx, idle, &ev); !got {
			if signals.Len() > 0 {
				continue // a signal arrived together with the idle timer
			}
			// Nothing is buffered, and nothing can arrive within this workflow
			// task; a signal that reaches the server meanwhile makes it
			// reject the completion and run us again.
			return &UserAccessResult{User: in.User, Events: st.Seq, History: st.History}, nil
		}
		st.handleV1(ctx, in.User, ev)
		handled++
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() || (in.MaxEventsPerRun > 0 && handled >= in.MaxEventsPerRun) {
			drain()
			next := in
			next.State = st
			return nil, workflow.NewContinueAsNewError(ctx, UserAccessWorkflow, next)
		}
	}
}

// handle applies one event and records its outcome.
func (st *UserAccessState) handleV1(ctx workflow.Context, user string, ev accessEventV1) {
	st.Seq++
	rec := AccessRecord{Seq: st.Seq, Op: ev.Op, Role: ev.Role, RequestID: ev.RequestID, At: ev.At, ReceivedAt: workflow.Now(ctx)}
	defer func() { st.record(rec) }()

	at, msg := validateEventV1(ev)
	switch {
	case msg != "":
		rec.Outcome, rec.Message = OutcomeRejected, msg
		return
	case ev.RequestID != "" && st.seenRequestIDs[ev.RequestID]:
		rec.Outcome, rec.Message = OutcomeDuplicate, fmt.Sprintf("request %s was already applied: ignored", ev.RequestID)
		return
	case at != nil && st.LastAppliedAt != nil && at.Before(*st.LastAppliedAt):
		rec.Outcome = OutcomeStale
		rec.Message = fmt.Sprintf("event time %s is older than the last applied event (%s): skipped", at.Format(time.RFC3339), st.LastAppliedAt.Format(time.RFC3339))
		return
	}

	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: fmt.Sprintf("%s/%d-%s", workflow.GetInfo(ctx).WorkflowExecution.ID, st.Seq, ev.Op),
	})
	var changed bool
	var err error
	if ev.Op == "grant" {
		var res ProvisionResult
		err = workflow.ExecuteChildWorkflow(cctx, ProvisionWorkflow, ProvisionInput{User: user, Role: ev.Role}).Get(ctx, &res)
		rec.RoleBefore, rec.RoleAfter, changed, rec.Message = res.PreviousRole, res.Role, res.Changed, res.Message
	} else {
		var res DeprovisionResult
		err = workflow.ExecuteChildWorkflow(cctx, DeprovisionWorkflow, DeprovisionInput{User: user, Role: ev.Role}).Get(ctx, &res)
		rec.RoleBefore, rec.RoleAfter, changed, rec.Message = res.PreviousRole, res.Role, res.Changed, res.Message
	}
	if err != nil {
		// Not marked as seen: a redelivery of the same request may succeed
		// (e.g. once the user has signed in to Tableau).
		rec.Outcome, rec.Message = OutcomeFailed, activities.RootMessage(err)
		return
	}
	rec.Outcome = OutcomeUnchanged
	if changed {
		rec.Outcome = OutcomeApplied
	}
	if ev.RequestID != "" {
		st.seenRequestIDs[ev.RequestID] = true
		st.RequestIDs = append(st.RequestIDs, ev.RequestID)
		if len(st.RequestIDs) > maxRequestIDsV1 {
			delete(st.seenRequestIDs, st.RequestIDs[0])
			st.RequestIDs = st.RequestIDs[1:]
		}
	}
	if at != nil && (st.LastAppliedAt == nil || at.After(*st.LastAppliedAt)) {
		st.LastAppliedAt = at
	}
}

// validateEventV1 checks an access event as version 1 did; a non-empty
// message rejects it.
func validateEventV1(ev accessEventV1) (*time.Time, string) {
	p := problems(ev.problems)
	if ev.Op != "grant" && ev.Op != "revoke" {
		p.add("op", "%q must be grant or revoke", ev.Op)
	}
	p.checkRole("role", ev.Role, tableau.ParseProvisionableRole)
	var at *time.Time
	if ev.At != "" {
		t, err := time.Parse(time.RFC3339, ev.At)
		if err != nil {
			p.add("at", "%q must be an RFC 3339 time such as 2026-11-23T10:00:00Z", ev.At)
		} else {
			at = &t
		}
	}
	if len(p) == 0 {
		return at, ""
	}
	return nil, "invalid access event: " + joinProblems(p)
}
