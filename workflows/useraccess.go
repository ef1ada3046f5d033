package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"tabflow/tableau"
)

const (
	defaultIdleTimeout = 10 * time.Minute
	// Bounds on what one run carries into the next, so a long-lived user's
	// workflow input stays small.
	maxHistory    = 200
	maxRequestIDs = 5000
)

// UserAccessInput starts a user's access entity. Started by signal-with-start
// with workflow ID UserAccessWorkflowID(user) and the access signal.
type UserAccessInput struct {
	User string `json:"user"`
	// IdleTimeout is how long to wait for the next event before finishing
	// (a Go duration such as "10m"; default 10m). A later signal-with-start
	// simply starts a new run.
	IdleTimeout string `json:"idleTimeout,omitempty"`
	// MaxEventsPerRun continues as new after this many events (0: only when
	// Temporal suggests it).
	MaxEventsPerRun int `json:"maxEventsPerRun,omitempty"`
	// State is carried from the previous run by continue-as-new.
	State    *UserAccessState `json:"state,omitempty"`
	problems []string
}

func (in *UserAccessInput) UnmarshalJSON(b []byte) error {
	type plain UserAccessInput
	in.problems = decodeInput(b, (*plain)(in))
	return nil
}

// AccessEvent is the access signal's payload:
// {"op":"grant","role":"Explorer","requestId":"r-17","at":"2026-11-23T10:00:00Z"}.
type AccessEvent struct {
	Op        string `json:"op"`                  // grant or revoke
	Role      string `json:"role"`                // a provisionable site role
	RequestID string `json:"requestId,omitempty"` // repeated IDs are ignored
	At        string `json:"at,omitempty"`        // upstream event time, RFC 3339
	problems  []string
}

func (e *AccessEvent) UnmarshalJSON(b []byte) error {
	type plain AccessEvent
	e.problems = decodeInput(b, (*plain)(e))
	return nil
}

// Outcomes of an access event.
const (
	OutcomeApplied   = "applied"   // the role changed
	OutcomeUnchanged = "unchanged" // done, nothing to change (already at role, or revoke of a role not held)
	OutcomeDuplicate = "duplicate" // requestId seen before: ignored
	OutcomeStale     = "stale"     // at older than the last applied event: skipped
	OutcomeRejected  = "rejected"  // invalid event: no Tableau call
	OutcomeFailed    = "failed"    // Provision/Deprovision failed (e.g. unknown user)
)

// AccessRecord is one event and what became of it.
type AccessRecord struct {
	Seq        int       `json:"seq"`
	Op         string    `json:"op"`
	Role       string    `json:"role"`
	RequestID  string    `json:"requestId,omitempty"`
	At         string    `json:"at,omitempty"`
	ReceivedAt time.Time `json:"receivedAt"`
	Outcome    string    `json:"outcome"`
	Message    string    `json:"message"`
	RoleBefore string    `json:"roleBefore,omitempty"`
	RoleAfter  string    `json:"roleAfter,omitempty"`
}

// UserAccessState is what one run hands the next.
type UserAccessState struct {
	Seq            int            `json:"seq"`
	RequestIDs     []string       `json:"requestIds,omitempty"`
	LastAppliedAt  *time.Time     `json:"lastAppliedAt,omitempty"`
	History        []AccessRecord `json:"history,omitempty"`
	seenRequestIDs map[string]bool
}

// UserAccessResult is the final state when the entity goes idle.
type UserAccessResult struct {
	User    string         `json:"user"`
	Events  int            `json:"events"`
	History []AccessRecord `json:"history"`
}

// UserAccess applies one user's grants and revokes strictly in arrival order,
// one at a time, as Provision/Deprovision child workflows. It drains every
// buffered signal before continuing as new or finishing, since a signal left
// in the channel then would be lost.
func UserAccess(ctx workflow.Context, in UserAccessInput) (*UserAccessResult, error) {
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
		var ev AccessEvent
		for signals.ReceiveAsync(&ev) {
			st.handle(ctx, in.User, ev)
			handled++
			ev = AccessEvent{}
		}
	}
	for {
		var ev AccessEvent
		if got, _ := signals.ReceiveWithTimeout(ctx, idle, &ev); !got {
			if signals.Len() > 0 {
				continue // a signal arrived together with the idle timer
			}
			// Nothing is buffered, and nothing can arrive within this workflow
			// task; a signal that reaches the server meanwhile makes it
			// reject the completion and run us again.
			return &UserAccessResult{User: in.User, Events: st.Seq, History: st.History}, nil
		}
		st.handle(ctx, in.User, ev)
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
func (st *UserAccessState) handle(ctx workflow.Context, user string, ev AccessEvent) {
	st.Seq++
	rec := AccessRecord{Seq: st.Seq, Op: ev.Op, Role: ev.Role, RequestID: ev.RequestID, At: ev.At, ReceivedAt: workflow.Now(ctx)}
	defer func() { st.record(rec) }()

	at, msg := validateEvent(ev)
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
		rec.Outcome, rec.Message = OutcomeFailed, rootMessage(err)
		return
	}
	rec.Outcome = OutcomeUnchanged
	if changed {
		rec.Outcome = OutcomeApplied
	}
	if ev.RequestID != "" {
		st.seenRequestIDs[ev.RequestID] = true
		st.RequestIDs = append(st.RequestIDs, ev.RequestID)
		if len(st.RequestIDs) > maxRequestIDs {
			delete(st.seenRequestIDs, st.RequestIDs[0])
			st.RequestIDs = st.RequestIDs[1:]
		}
	}
	if at != nil && (st.LastAppliedAt == nil || at.After(*st.LastAppliedAt)) {
		st.LastAppliedAt = at
	}
}

func (st *UserAccessState) record(rec AccessRecord) {
	st.History = append(st.History, rec)
	if len(st.History) > maxHistory {
		st.History = st.History[len(st.History)-maxHistory:]
	}
}

// validateEvent checks an access event; a non-empty message rejects it.
func validateEvent(ev AccessEvent) (*time.Time, string) {
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
