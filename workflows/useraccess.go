package workflows

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"tabflow/tableau"
)

// Bounds that keep an entity's history, its continue-as-new input and its
// memory far below Temporal's limits, whatever its input stream.
const (
	maxHistory       = 200     // records kept (and answered by the history query)
	maxRequestIDs    = 10_000  // applied requestIds remembered, as digests
	maxPending       = 500     // events accepted but not yet applied
	maxFieldBytes    = 256     // every field of an access event
	maxRunEvents     = 2_000   // history events before continuing as new
	maxRunBytes      = 4 << 20 // history bytes before continuing as new
	expiryRetryDelay = 10 * time.Minute
)

// accessEntityPatch marks the access entity that remembers grants, answers
// updates and never goes idle. Runs started before it replay as userAccessV1.
const accessEntityPatch = "access-entity-v2"

// UserAccessInput starts a user's access entity, with workflow ID
// UserAccessWorkflowID(task queue, user), by Update-With-Start (the access
// update) or signal-with-start (the access signal).
type UserAccessInput struct {
	User string `json:"user"`
	// MaxEventsPerRun continues as new after this many applied events
	// (0: when Temporal suggests it, or the run's history grows large).
	MaxEventsPerRun int `json:"maxEventsPerRun,omitempty"`
	// IdleTimeout is read only by runs started before the entity learned to
	// remember (userAccessV1); the entity no longer finishes when idle.
	IdleTimeout string `json:"idleTimeout,omitempty"`
	// State is carried from the previous run by continue-as-new.
	State    *UserAccessState `json:"state,omitempty"`
	problems []string
}

func (in *UserAccessInput) UnmarshalJSON(b []byte) error {
	type plain UserAccessInput
	in.problems = decodeInput(b, (*plain)(in))
	return nil
}

// AccessEvent is the access update's and signal's payload:
// {"op":"grant","role":"Explorer","requestId":"r-17","at":"2026-11-23T10:00:00Z","duration":"8h"}.
type AccessEvent struct {
	Op        string `json:"op"`                  // grant or revoke
	Role      string `json:"role"`                // a provisionable site role
	RequestID string `json:"requestId,omitempty"` // a request applied once is a duplicate ever after
	At        string `json:"at,omitempty"`        // upstream event time, RFC 3339: older than the last applied is stale
	Duration  string `json:"duration,omitempty"`  // grants: a Go duration until the entity revokes it
	ExpiresAt string `json:"expiresAt,omitempty"` // grants: an RFC 3339 time instead of duration
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
	OutcomeDuplicate = "duplicate" // requestId applied before: ignored
	OutcomeStale     = "stale"     // at older than the last applied event: skipped
	OutcomeRejected  = "rejected"  // invalid event: no Tableau call
	OutcomeFailed    = "failed"    // Provision/Deprovision failed (e.g. unknown user); may be redelivered
	OutcomeExpired   = "expired"   // a time-bound grant ran out and the entity revoked it
)

// AccessRecord is one event and what became of it: the access update's answer.
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
	ExpiresAt  string    `json:"expiresAt,omitempty"` // a time-bound grant's expiry
}

// Grant is a role the entity holds for the user; ExpiresAt nil = until revoked.
type Grant struct {
	Role      tableau.SiteRole `json:"role"`
	ExpiresAt *time.Time       `json:"expiresAt,omitempty"`
	RequestID string           `json:"requestId,omitempty"`
	// RetryAt postpones a failed expiry.
	RetryAt *time.Time `json:"retryAt,omitempty"`
}

// PendingEvent is an accepted signal not yet applied, carried across
// continue-as-new so that nothing accepted is lost.
type PendingEvent struct {
	Event      AccessEvent `json:"event"`
	ReceivedAt time.Time   `json:"receivedAt"`
}

// UserAccessState is the entity's memory, handed from run to run whole.
type UserAccessState struct {
	Seq int `json:"seq"`
	// RequestIDs are the raw IDs remembered by runs before the upgrade.
	RequestIDs []string `json:"requestIds,omitempty"`
	// Applied are digests of the applied requestIds, oldest first.
	Applied       []string       `json:"applied,omitempty"`
	LastAppliedAt *time.Time     `json:"lastAppliedAt,omitempty"`
	Grants        []Grant        `json:"grants,omitempty"`
	History       []AccessRecord `json:"history,omitempty"`
	Pending       []PendingEvent `json:"pending,omitempty"`
	// Forget is set once the forget update arrived: the entity ends when its
	// pending events are applied, in whichever run that happens.
	Forget bool `json:"forget,omitempty"`

	seenRequestIDs map[string]bool // userAccessV1's index of RequestIDs
}

// UserAccessResult is what an entity says when it ends (the forget update).
type UserAccessResult struct {
	User    string         `json:"user"`
	Events  int            `json:"events"`
	Grants  []Grant        `json:"grants,omitempty"`
	History []AccessRecord `json:"history"`
}

// HistoryPage asks the history query for older records: those before Seq
// Before (0: the newest), at most Limit (0: all kept).
type HistoryPage struct {
	Before int `json:"before,omitempty"`
	Limit  int `json:"limit,omitempty"`
}

// UserAccess is the per-site, per-user access entity (SPEC §3.1): it applies
// the user's grants and revokes in arrival order, one at a time, as
// Provision/Deprovision child workflows; remembers the grants it holds, so a
// revoke falls back to the highest grant still held; revokes time-bound
// grants when they expire; and never forgets a request it applied. It waits
// without a timer while idle, continues as new with its whole state, and
// ends only on the forget update.
func UserAccess(ctx workflow.Context, in UserAccessInput) (*UserAccessResult, error) {
	if workflow.GetVersion(ctx, accessEntityPatch, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return userAccessV1(ctx, in)
	}
	p := problems(in.problems)
	p.checkUserName("user", in.User)
	if in.MaxEventsPerRun < 0 {
		p.add("maxEventsPerRun", "must not be negative")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	e := newEntity(ctx, in)
	if err := e.register(ctx); err != nil {
		return nil, err
	}
	return e.run(ctx)
}

// entity is one run of UserAccess.
type entity struct {
	in        UserAccessInput
	st        *UserAccessState
	misrouted string // why this entity refuses every event, if it does
	applied   map[string]bool
	queue     []queued
	answers   map[int]*AccessRecord // update tickets → their records
	tickets   int
	handled   int
	forget    bool
	signals   workflow.ReceiveChannel
}

// queued is an event waiting its turn; ticket > 0 for an update's.
type queued struct {
	PendingEvent
	ticket int
}

func newEntity(ctx workflow.Context, in UserAccessInput) *entity {
	st := in.State
	if st == nil {
		st = &UserAccessState{}
	}
	e := &entity{in: in, st: st, applied: map[string]bool{}, answers: map[int]*AccessRecord{},
		signals: workflow.GetSignalChannel(ctx, AccessSignal), forget: st.Forget}
	for _, id := range st.RequestIDs { // remembered by a run before the upgrade
		st.Applied = append(st.Applied, requestDigest(id))
	}
	st.RequestIDs = nil
	st.Applied = lastN(st.Applied, maxRequestIDs)
	for _, d := range st.Applied {
		e.applied[d] = true
	}
	for _, p := range st.Pending {
		e.queue = append(e.queue, queued{PendingEvent: p})
	}
	st.Pending = nil
	info := workflow.GetInfo(ctx)
	id, want := info.WorkflowExecution.ID, UserAccessWorkflowID(info.TaskQueueName, in.User)
	if id != want && id != legacyUserAccessWorkflowID(in.User) {
		e.misrouted = fmt.Sprintf("this entity's ID %q does not match its task queue %q and user: the entity for that site and user is %q, so no event is applied here",
			truncateText(id, 120), info.TaskQueueName, truncateText(want, 120))
	}
	return e
}

func (e *entity) register(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, HistoryQuery, e.history); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, GrantsQuery, func() ([]Grant, error) { return e.st.Grants, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, AccessUpdate, e.onUpdate,
		workflow.UpdateHandlerOptions{Validator: e.validateUpdate}); err != nil {
		return err
	}
	return workflow.SetUpdateHandler(ctx, ForgetUpdate, func(ctx workflow.Context) (string, error) {
		e.drainSignals(ctx) // signals that arrived first are still applied
		e.forget = true
		return fmt.Sprintf("the entity ends once its %d queued events are applied; the grants it holds stay in Tableau", len(e.queue)), nil
	})
}

// validateUpdate rejects an invalid access update before it is accepted, so
// it never enters history.
func (e *entity) validateUpdate(ctx workflow.Context, ev AccessEvent) error {
	if msg := e.refusal(ctx, ev); msg != "" {
		return newInvalidInput(msg)
	}
	return nil
}

// refusal is why an event cannot be queued, or "".
func (e *entity) refusal(ctx workflow.Context, ev AccessEvent) string {
	switch {
	case e.misrouted != "":
		return e.misrouted
	case e.forget:
		return "this entity is ending (forget): start a new one"
	case len(e.queue) >= maxPending:
		return fmt.Sprintf("%d events are already waiting to be applied: send this one again later", maxPending)
	}
	if _, msg := parseEvent(ev, workflow.Now(ctx)); msg != "" {
		return msg
	}
	return ""
}

// onUpdate queues the event behind every earlier one and answers with its
// record once it is applied.
func (e *entity) onUpdate(ctx workflow.Context, ev AccessEvent) (AccessRecord, error) {
	e.drainSignals(ctx) // signals that arrived first go first
	e.tickets++
	ticket := e.tickets
	e.queue = append(e.queue, queued{PendingEvent: PendingEvent{Event: ev, ReceivedAt: workflow.Now(ctx)}, ticket: ticket})
	if err := workflow.Await(ctx, func() bool { return e.answers[ticket] != nil }); err != nil {
		return AccessRecord{}, err
	}
	rec := *e.answers[ticket]
	delete(e.answers, ticket)
	return rec, nil
}

// drainSignals queues every buffered access signal; an invalid one, or one
// beyond the queue's bound, is recorded as rejected at once.
func (e *entity) drainSignals(ctx workflow.Context) {
	for {
		var ev AccessEvent
		if !e.signals.ReceiveAsync(&ev) {
			return
		}
		if msg := e.refusal(ctx, ev); msg != "" {
			e.record(ctx, e.newRecord(ev, workflow.Now(ctx), OutcomeRejected, msg))
			continue
		}
		e.queue = append(e.queue, queued{PendingEvent: PendingEvent{Event: ev, ReceivedAt: workflow.Now(ctx)}})
	}
}

func (e *entity) run(ctx workflow.Context) (*UserAccessResult, error) {
	for {
		if e.shouldContinueAsNew(ctx) {
			return nil, e.continueAsNew(ctx)
		}
		e.drainSignals(ctx)
		if len(e.queue) > 0 {
			e.applyNext(ctx)
			continue
		}
		if g := e.dueGrant(ctx); g != nil {
			e.expire(ctx, *g)
			continue
		}
		if e.forget {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return nil, err
			}
			return &UserAccessResult{User: e.in.User, Events: e.st.Seq, Grants: e.st.Grants, History: e.st.History}, nil
		}
		if err := e.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// wait blocks until an event arrives or a grant expires: with no time-bound
// grant, it waits without a timer, which costs nothing.
func (e *entity) wait(ctx workflow.Context) error {
	ready := func() bool { return len(e.queue) > 0 || e.signals.Len() > 0 || e.forget }
	next := e.nextExpiry()
	if next == nil {
		return workflow.Await(ctx, ready)
	}
	_, err := workflow.AwaitWithTimeout(ctx, max(next.Sub(workflow.Now(ctx)), time.Millisecond), ready)
	return err
}

func (e *entity) shouldContinueAsNew(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > maxRunEvents ||
		info.GetCurrentHistorySize() > maxRunBytes || (e.in.MaxEventsPerRun > 0 && e.handled >= e.in.MaxEventsPerRun)
}

// continueAsNew hands the whole state to a new run. Every accepted update is
// answered first (updates cannot cross runs); queued signals travel as
// Pending, and signals buffered now are drained into it.
func (e *entity) continueAsNew(ctx workflow.Context) error {
	for {
		for slices.ContainsFunc(e.queue, func(q queued) bool { return q.ticket > 0 }) {
			e.applyNext(ctx)
		}
		if workflow.AllHandlersFinished(ctx) {
			break
		}
		if err := workflow.Await(ctx, func() bool {
			return workflow.AllHandlersFinished(ctx) || slices.ContainsFunc(e.queue, func(q queued) bool { return q.ticket > 0 })
		}); err != nil {
			return err
		}
	}
	e.drainSignals(ctx)
	for _, q := range e.queue {
		e.st.Pending = append(e.st.Pending, q.PendingEvent)
	}
	e.st.Forget = e.forget
	next := e.in
	next.State = e.st
	next.IdleTimeout = ""
	return workflow.NewContinueAsNewError(ctx, UserAccessWorkflow, next)
}

// applyNext applies the first queued event and answers its update, if any.
func (e *entity) applyNext(ctx workflow.Context) {
	q := e.queue[0]
	e.queue = e.queue[1:]
	rec := e.apply(ctx, q.PendingEvent)
	e.record(ctx, rec)
	e.handled++
	if q.ticket > 0 {
		e.answers[q.ticket] = &rec
	}
}

func (e *entity) newRecord(ev AccessEvent, received time.Time, outcome, msg string) AccessRecord {
	e.st.Seq++
	return AccessRecord{Seq: e.st.Seq, Op: bounded(ev.Op), Role: bounded(ev.Role), RequestID: bounded(ev.RequestID), At: bounded(ev.At),
		ReceivedAt: received, Outcome: outcome, Message: msg}
}

// apply decides one event against the entity's memory and carries it out.
func (e *entity) apply(ctx workflow.Context, p PendingEvent) AccessRecord {
	ev := p.Event
	rec := e.newRecord(ev, p.ReceivedAt, "", "")
	if e.misrouted != "" {
		rec.Outcome, rec.Message = OutcomeRejected, e.misrouted
		return rec
	}
	parsed, msg := parseEvent(ev, workflow.Now(ctx))
	switch {
	case msg != "":
		rec.Outcome, rec.Message = OutcomeRejected, msg
		return rec
	case ev.RequestID != "" && e.applied[requestDigest(ev.RequestID)]:
		rec.Outcome, rec.Message = OutcomeDuplicate, fmt.Sprintf("request %s was already applied: ignored", rec.RequestID)
		return rec
	case parsed.at != nil && e.st.LastAppliedAt != nil && parsed.at.Before(*e.st.LastAppliedAt):
		rec.Outcome = OutcomeStale
		rec.Message = fmt.Sprintf("event time %s is older than the last applied event (%s): skipped", parsed.at.Format(time.RFC3339), e.st.LastAppliedAt.Format(time.RFC3339))
		return rec
	}
	var ok bool
	if parsed.op == "grant" {
		ok = e.grant(ctx, &rec, Grant{Role: parsed.role, ExpiresAt: parsed.expiresAt, RequestID: ev.RequestID})
	} else {
		ok = e.revoke(ctx, &rec, parsed.role, "revoke")
	}
	if !ok {
		return rec // not remembered: a redelivery may succeed
	}
	if ev.RequestID != "" {
		d := requestDigest(ev.RequestID)
		e.applied[d] = true
		e.st.Applied = append(e.st.Applied, d)
		if len(e.st.Applied) > maxRequestIDs {
			delete(e.applied, e.st.Applied[0])
			e.st.Applied = e.st.Applied[1:]
		}
	}
	if parsed.at != nil && (e.st.LastAppliedAt == nil || parsed.at.After(*e.st.LastAppliedAt)) {
		e.st.LastAppliedAt = parsed.at
	}
	return rec
}

// grant holds g and sets the user's role to the highest grant held (so a
// lower grant never demotes a user who holds a higher one).
func (e *entity) grant(ctx workflow.Context, rec *AccessRecord, g Grant) bool {
	grants := withoutRole(e.st.Grants, g.Role)
	grants = append(grants, g)
	target := highest(grants)
	var res ProvisionResult
	err := workflow.ExecuteChildWorkflow(e.childCtx(ctx, rec.Seq, "grant"), ProvisionWorkflow, ProvisionInput{User: e.in.User, Role: string(target)}).Get(ctx, &res)
	if !e.settle(rec, err, grants, res.PreviousRole, res.Role, res.Changed, res.Message) {
		return false
	}
	if target != g.Role {
		rec.Message = fmt.Sprintf("%s grant held; the user keeps the higher grant %s. %s", g.Role, target, res.Message)
	}
	if g.ExpiresAt != nil {
		rec.ExpiresAt = g.ExpiresAt.Format(time.RFC3339)
		rec.Message += fmt.Sprintf(" (the %s grant expires at %s)", g.Role, rec.ExpiresAt)
	}
	return true
}

// revoke drops the role's grant. Only when the role is the user's current
// one does the role change: to the highest grant still held, or Unlicensed.
func (e *entity) revoke(ctx workflow.Context, rec *AccessRecord, role tableau.SiteRole, op string) bool {
	grants := withoutRole(e.st.Grants, role)
	fallback := highest(grants)
	var res DeprovisionResult
	in := DeprovisionInput{User: e.in.User, Role: string(role), FallbackRole: string(fallback)}
	err := workflow.ExecuteChildWorkflow(e.childCtx(ctx, rec.Seq, op), DeprovisionWorkflow, in).Get(ctx, &res)
	return e.settle(rec, err, grants, res.PreviousRole, res.Role, res.Changed, res.Message)
}

// settle records a child workflow's outcome; only a success makes grants the
// entity's memory (a failure leaves it as it was, matching Tableau).
func (e *entity) settle(rec *AccessRecord, err error, grants []Grant, before, after string, changed bool, msg string) bool {
	if err != nil {
		rec.Outcome, rec.Message = OutcomeFailed, rootMessage(err)
		return false
	}
	e.st.Grants = grants
	rec.RoleBefore, rec.RoleAfter, rec.Message = before, after, msg
	rec.Outcome = OutcomeUnchanged
	if changed {
		rec.Outcome = OutcomeApplied
	}
	return true
}

// expire revokes a time-bound grant whose time is up (outcome expired).
func (e *entity) expire(ctx workflow.Context, g Grant) {
	rec := e.newRecord(AccessEvent{Op: "revoke", Role: string(g.Role)}, workflow.Now(ctx), "", "")
	rec.ExpiresAt = g.ExpiresAt.Format(time.RFC3339)
	if e.revoke(ctx, &rec, g.Role, "expire") {
		rec.Outcome = OutcomeExpired
		rec.Message = fmt.Sprintf("the %s grant expired at %s: %s", g.Role, rec.ExpiresAt, rec.Message)
	} else {
		retry := workflow.Now(ctx).Add(expiryRetryDelay)
		for i := range e.st.Grants {
			if e.st.Grants[i].Role == g.Role {
				e.st.Grants[i].RetryAt = &retry
			}
		}
		rec.Message = fmt.Sprintf("revoking the expired %s grant failed (next try at %s): %s", g.Role, retry.Format(time.RFC3339), rec.Message)
	}
	e.record(ctx, rec)
}

// dueGrant is a time-bound grant whose expiry (or retry) has come, if any.
func (e *entity) dueGrant(ctx workflow.Context) *Grant {
	now := workflow.Now(ctx)
	for i, g := range e.st.Grants {
		if t := g.due(); t != nil && !t.After(now) {
			return &e.st.Grants[i]
		}
	}
	return nil
}

func (e *entity) nextExpiry() *time.Time {
	var next *time.Time
	for _, g := range e.st.Grants {
		if t := g.due(); t != nil && (next == nil || t.Before(*next)) {
			next = t
		}
	}
	return next
}

func (g Grant) due() *time.Time {
	if g.RetryAt != nil {
		return g.RetryAt
	}
	return g.ExpiresAt
}

func (e *entity) childCtx(ctx workflow.Context, seq int, op string) workflow.Context {
	return workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: fmt.Sprintf("%s/%d-%s", workflow.GetInfo(ctx).WorkflowExecution.ID, seq, op),
	})
}

// record keeps rec and shows the entity's state at a glance in the
// Temporal UI (its current details).
func (e *entity) record(ctx workflow.Context, rec AccessRecord) {
	e.st.record(rec)
	grants := "none"
	if len(e.st.Grants) > 0 {
		var gs []string
		for _, g := range e.st.Grants {
			if g.ExpiresAt != nil {
				gs = append(gs, fmt.Sprintf("%s until %s", g.Role, g.ExpiresAt.Format(time.RFC3339)))
			} else {
				gs = append(gs, string(g.Role))
			}
		}
		grants = strings.Join(gs, ", ")
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s · grants: %s · last: %s %s %s", e.in.User, grants, rec.Op, rec.Role, rec.Outcome))
}

func (st *UserAccessState) record(rec AccessRecord) {
	st.History = lastN(append(st.History, rec), maxHistory)
}

// history answers the history query: the newest records first kept, or a
// page of older ones.
func (e *entity) history(page *HistoryPage) ([]AccessRecord, error) {
	recs := e.st.History
	if page != nil && page.Before > 0 {
		i, _ := slices.BinarySearchFunc(recs, page.Before, func(r AccessRecord, seq int) int { return r.Seq - seq })
		recs = recs[:i]
	}
	if page != nil && page.Limit > 0 {
		recs = lastN(recs, page.Limit)
	}
	return recs, nil
}

// parsedEvent is a valid event's meaning.
type parsedEvent struct {
	op        string
	role      tableau.SiteRole
	at        *time.Time
	expiresAt *time.Time
}

// parseEvent checks an access event; a non-empty message rejects it.
func parseEvent(ev AccessEvent, now time.Time) (parsedEvent, string) {
	p := problems(boundedProblems(ev.problems))
	for _, f := range []struct{ name, value string }{{"op", ev.Op}, {"role", ev.Role}, {"requestId", ev.RequestID}, {"at", ev.At}, {"duration", ev.Duration}, {"expiresAt", ev.ExpiresAt}} {
		if len(f.value) > maxFieldBytes {
			p.add(f.name, "is %d bytes long; at most %d", len(f.value), maxFieldBytes)
		}
	}
	if len(p) > 0 {
		return parsedEvent{}, "invalid access event: " + joinProblems(p)
	}
	out := parsedEvent{op: ev.Op}
	if ev.Op != "grant" && ev.Op != "revoke" {
		p.add("op", "%q must be grant or revoke", ev.Op)
	}
	out.role = p.checkRole("role", ev.Role, tableau.ParseProvisionableRole)
	if ev.At != "" {
		if t, err := time.Parse(time.RFC3339, ev.At); err != nil {
			p.add("at", "%q must be an RFC 3339 time such as 2026-11-23T10:00:00Z", ev.At)
		} else {
			out.at = &t
		}
	}
	switch {
	case ev.Duration != "" && ev.ExpiresAt != "":
		p.add("duration", "and expiresAt: give one, not both")
	case (ev.Duration != "" || ev.ExpiresAt != "") && ev.Op == "revoke":
		p.add("duration", "and expiresAt are for grants only")
	case ev.Duration != "":
		if d, err := time.ParseDuration(ev.Duration); err != nil || d <= 0 {
			p.add("duration", "%q must be a positive Go duration such as 8h or 30m", ev.Duration)
		} else {
			t := now.Add(d)
			out.expiresAt = &t
		}
	case ev.ExpiresAt != "":
		if t, err := time.Parse(time.RFC3339, ev.ExpiresAt); err != nil {
			p.add("expiresAt", "%q must be an RFC 3339 time such as 2026-11-23T18:00:00Z", ev.ExpiresAt)
		} else if !t.After(now) {
			p.add("expiresAt", "%s is in the past", ev.ExpiresAt)
		} else {
			out.expiresAt = &t
		}
	}
	if len(p) > 0 {
		return parsedEvent{}, "invalid access event: " + joinProblems(p)
	}
	return out, ""
}

// boundedProblems shortens decoding problems that quote input (an unknown
// field's name may be of any length).
func boundedProblems(ps []string) []string {
	out := make([]string, len(ps))
	for i, s := range ps {
		out[i] = truncateText(s, 2*maxFieldBytes)
	}
	return out
}

// roleRank orders the provisionable roles, highest first (SPEC §3.1).
var roleRank = []tableau.SiteRole{tableau.RoleCreator, tableau.RoleSiteAdministratorExplorer, tableau.RoleExplorerCanPublish, tableau.RoleExplorer, tableau.RoleViewer}

// highest is the highest role among grants, or "" for none.
func highest(grants []Grant) tableau.SiteRole {
	for _, r := range roleRank {
		if slices.ContainsFunc(grants, func(g Grant) bool { return g.Role == r }) {
			return r
		}
	}
	return ""
}

func withoutRole(grants []Grant, role tableau.SiteRole) []Grant {
	return slices.DeleteFunc(slices.Clone(grants), func(g Grant) bool { return g.Role == role })
}

// requestDigest is how a requestId is remembered: 16 bytes of its SHA-256,
// so 10,000 of them stay small whatever upstream IDs look like.
func requestDigest(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawStdEncoding.EncodeToString(sum[:16])
}

func bounded(s string) string { return truncateText(s, maxFieldBytes) }

func lastN[T any](s []T, n int) []T {
	if len(s) > n {
		return slices.Clone(s[len(s)-n:])
	}
	return s
}

// legacyUserAccessWorkflowID is the ID entities had before they were per
// site: such entities keep running and are served on their own task queue.
func legacyUserAccessWorkflowID(user string) string {
	return "tableau-access/" + strings.ToLower(strings.TrimSpace(user))
}
