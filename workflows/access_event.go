package workflows

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"tabflow/internal/clip"
	"tabflow/tableau"
)

// AccessEvent is the access update's and signal's payload:
// {"op":"grant","role":"Explorer","requestId":"r-17","at":"2026-11-23T10:00:00Z","duration":"8h"}.
type AccessEvent struct {
	Op        Op     `json:"op"`                  // grant, revoke, or reconcile (sent by Reconcile)
	Role      string `json:"role,omitempty"`      // a provisionable site role (none with reconcile)
	RequestID string `json:"requestId,omitempty"` // (op, requestId) handled once is a duplicate ever after
	At        string `json:"at,omitempty"`        // upstream event time, RFC 3339: older than the last applied for its role is stale
	Duration  string `json:"duration,omitempty"`  // grants: a Go duration, from when the event arrives, until the entity revokes it
	ExpiresAt string `json:"expiresAt,omitempty"` // grants: an RFC 3339 time instead of duration
	// Expected and Actual are a reconcile's approved change: the role the
	// grants called for and the role Tableau showed when the plan was made.
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	inputProblems
}

// Op is what an access event asks for.
type Op string

// Ops of an access event.
const (
	OpGrant  Op = "grant"
	OpRevoke Op = "revoke"
	// OpReconcile asks the entity to set the role its grants call for, if
	// Tableau still shows another (requestId: the plan's ID).
	OpReconcile Op = "reconcile"
	// OpForget appears only in records: a forget that could not stand.
	OpForget Op = "forget"
)

// Outcome is what became of an access event.
type Outcome string

// Outcomes of an access event.
const (
	OutcomeApplied    Outcome = "applied"    // the role changed
	OutcomeUnchanged  Outcome = "unchanged"  // done, nothing to change (already at role, or revoke of a role not held)
	OutcomeDuplicate  Outcome = "duplicate"  // (op, requestId) handled before: ignored
	OutcomeStale      Outcome = "stale"      // at older than the last applied event for its role: skipped
	OutcomeSuperseded Outcome = "superseded" // a later event for the same role arrived while it waited: moot
	OutcomeRejected   Outcome = "rejected"   // invalid event: no Tableau call
	OutcomeFailed     Outcome = "failed"     // Provision/Deprovision failed (e.g. unknown user); may be redelivered
	OutcomeExpired    Outcome = "expired"    // a time-bound grant ran out and the entity revoked it
)

// AccessRecord is one event and what became of it: the access update's answer.
type AccessRecord struct {
	Seq        int       `json:"seq"`
	Op         Op        `json:"op"`
	Role       string    `json:"role"`
	RequestID  string    `json:"requestId,omitempty"`
	At         string    `json:"at,omitempty"`
	ReceivedAt time.Time `json:"receivedAt"`
	// Waited is how long the event waited, from its arrival until the
	// entity began applying it ("1.2s"): behind the user's other events.
	Waited     string   `json:"waited,omitempty"`
	Outcome    Outcome  `json:"outcome"`
	Message    string   `json:"message"`
	RoleBefore string   `json:"roleBefore,omitempty"`
	RoleAfter  string   `json:"roleAfter,omitempty"`
	ExpiresAt  string   `json:"expiresAt,omitempty"` // a time-bound grant's expiry
	Warnings   []string `json:"warnings,omitempty"`
}

// PendingEvent is an accepted event not yet applied, carried across
// continue-as-new so that nothing accepted is lost.
type PendingEvent struct {
	Event      AccessEvent `json:"event"`
	ReceivedAt time.Time   `json:"receivedAt"`
	// Seq numbers the event on arrival, so records list in arrival order.
	Seq int `json:"seq,omitempty"`
	// Folded is the memory of the events coalesced into this one, kept only
	// once this one is applied, as applying them in turn would have kept it.
	Folded *FoldedEvents `json:"folded,omitempty"`
}

// FoldedEvents are the request keys (requestKey) of superseded events and
// their latest `at`.
type FoldedEvents struct {
	Keys []string   `json:"keys,omitempty"`
	At   *time.Time `json:"at,omitempty"`
}

// fold adds w, and what was folded into w, to what is folded into p.
func (p *PendingEvent) fold(w PendingEvent, ev parsedEvent) {
	f := p.Folded
	if f == nil {
		f = &FoldedEvents{}
	}
	if w.Folded != nil {
		f.Keys = append(w.Folded.Keys, f.Keys...)
		f.At = laterTime(f.At, w.Folded.At)
	}
	if ev.requestID != "" {
		f.Keys = append(f.Keys, requestKey(ev.op, ev.requestID))
	}
	f.Keys = lastN(f.Keys, maxFolded) // bounded: an older one redelivered is not known as a duplicate
	f.At = laterTime(f.At, ev.at)
	p.Folded = f
}

func laterTime(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.After(*a)) {
		return b
	}
	return a
}

// Bounds on what one event can make the entity keep, in JSON bytes: 200
// records of at most ~2.5 KB, whatever is sent or Tableau answers (SPEC §3.1).
const (
	maxFieldBytes    = 256 // every field of an access event, as sent
	maxKeptField     = 256 // a request ID as a record keeps it, JSON-encoded
	maxKeptShort     = 64  // an op, a role or a time as a record keeps it (Tableau's role names included)
	maxKeptMessage   = 600 // a record's message, JSON-encoded
	maxKeptWarning   = 300 // each warning
	maxKeptWarnings  = 3
	maxFolded        = 200 // request keys folded into one waiting event
	maxWaitingPlans  = 16  // reconcile events waiting at once
	maxKeptProblems  = 3   // decoding problems quoted in a rejection
	maxProblemLength = 120 // each, JSON-encoded
	// maxClockSkew is how far after its arrival an event's `at` may be.
	maxClockSkew = 5 * time.Minute
)

// parsedEvent is a valid event's meaning.
type parsedEvent struct {
	op        Op
	role      tableau.SiteRole
	requestID string
	at        *time.Time
	expiresAt *time.Time
	// expected and actual are a reconcile's approved change.
	expected, actual tableau.SiteRole
}

// checkSizes bounds every field of an access event before anything reads it.
func (p *problems) checkSizes(ev AccessEvent, limit int) {
	for _, f := range []struct{ name, value string }{{"op", string(ev.Op)}, {"role", ev.Role}, {"requestId", ev.RequestID}, {"at", ev.At}, {"duration", ev.Duration}, {"expiresAt", ev.ExpiresAt}, {"expected", ev.Expected}, {"actual", ev.Actual}} {
		if len(f.value) > limit {
			p.add(f.name, "is %d bytes long; at most %d", len(f.value), limit)
		}
	}
}

// parseEvent checks an access event that arrived at received (a duration
// counts from then); a non-empty message rejects it.
func parseEvent(ev AccessEvent, received time.Time) (parsedEvent, string) {
	p := problems(capProblems(ev.problems))
	p.checkSizes(ev, maxFieldBytes)
	if len(p) > 0 {
		return parsedEvent{}, "invalid access event: " + joinProblems(p)
	}
	out := parsedEvent{op: ev.Op, requestID: ev.RequestID}
	switch ev.Op {
	case OpGrant, OpRevoke:
		out.role = p.checkRole("role", ev.Role, tableau.ParseProvisionableRole)
	case OpReconcile:
		if ev.Role != "" {
			p.add("role", "is not given with reconcile: expected is the role the approved plan sets")
		}
		if ev.RequestID == "" {
			p.add("requestId", "is required with reconcile (the plan's ID)")
		}
		if ev.Expected != "" {
			out.expected = p.checkRole("expected", ev.Expected, tableau.ParseSettableRole)
		}
		out.actual = tableau.SiteRole(ev.Actual)
	default:
		p.add("op", "%q must be grant, revoke or reconcile", clip.Text(string(ev.Op), 64))
	}
	if ev.Op != OpReconcile && (ev.Expected != "" || ev.Actual != "") {
		p.add("expected", "and actual are for reconcile events only")
	}
	out.at, out.expiresAt = p.checkTimes(ev, ev.Op == OpGrant, received)
	if len(p) > 0 {
		return parsedEvent{}, "invalid access event: " + joinProblems(p)
	}
	return out, ""
}

// equivalenceProblems are what the rules of SPEC §3.1/§3.2 refuse beyond
// what parseEvent checks (runs started before them apply such events, see
// useraccess_legacy.go): an `at` from the future, a reconcile without the
// approved change.
func equivalenceProblems(ev parsedEvent, raw AccessEvent, received time.Time) string {
	var p problems
	if ev.at != nil && ev.at.Sub(received) > maxClockSkew {
		p.add("at", "%s is %s after the event arrived (%s): more than %s ahead, so the sender's clock is wrong; an event from the future would make every real event after it stale",
			raw.At, ev.at.Sub(received).Round(time.Second), received.UTC().Format(time.RFC3339), maxClockSkew)
	}
	if ev.op == OpReconcile && raw.Expected == "" {
		p.add("expected", "is required with reconcile (the role the approved plan sets)")
	}
	if ev.op == OpReconcile && raw.Actual == "" {
		p.add("actual", "is required with reconcile (the role Tableau showed in the approved plan)")
	}
	if len(p) > 0 {
		return "invalid access event: " + joinProblems(p)
	}
	return ""
}

// checkTimes reads an access event's at and its end (duration, counted from
// received, or expiresAt); only a grant may end.
func (p *problems) checkTimes(ev AccessEvent, grant bool, received time.Time) (at, expiresAt *time.Time) {
	if ev.At != "" {
		if t, err := time.Parse(time.RFC3339, ev.At); err != nil {
			p.add("at", "%q must be an RFC 3339 time such as 2026-11-23T10:00:00Z", clip.Text(ev.At, 64))
		} else {
			at = &t
		}
	}
	switch {
	case ev.Duration != "" && ev.ExpiresAt != "":
		p.add("duration", "and expiresAt: give one, not both")
	case (ev.Duration != "" || ev.ExpiresAt != "") && !grant:
		p.add("duration", "and expiresAt are for grants only")
	case ev.Duration != "":
		if d, err := time.ParseDuration(ev.Duration); err != nil || d <= 0 {
			p.add("duration", "%q must be a positive Go duration such as 8h or 30m", clip.Text(ev.Duration, 64))
		} else {
			t := received.Add(d)
			expiresAt = &t
		}
	case ev.ExpiresAt != "":
		if t, err := time.Parse(time.RFC3339, ev.ExpiresAt); err != nil {
			p.add("expiresAt", "%q must be an RFC 3339 time such as 2026-11-23T18:00:00Z", clip.Text(ev.ExpiresAt, 64))
		} else if !t.After(received) {
			p.add("expiresAt", "%s is in the past", ev.ExpiresAt)
		} else {
			expiresAt = &t
		}
	}
	return at, expiresAt
}

// capProblems keeps the first few decoding problems, each short, and says
// how many more there were: ten thousand unknown fields make one line.
func capProblems(ps []string) []string {
	var out []string
	for i, s := range ps {
		if i == maxKeptProblems {
			out = append(out, "and "+thousands(len(ps)-i)+" more")
			break
		}
		out = append(out, capText(s, maxProblemLength))
	}
	return out
}

// capText keeps as much of s as fits in n bytes once JSON-encoded (a "<" is
// six bytes there), cut at a character and marked "…".
func capText[S ~string](s S, n int) S {
	if encodedLen(s) <= n {
		return s
	}
	size := len("…")
	for i, r := range s {
		w := encodedLen(string(r))
		if r == utf8.RuneError {
			w = len(`\ufffd`)
		}
		if size+w > n {
			return s[:i] + "…"
		}
		size += w
	}
	return s
}

// encodedLen is s's length as a JSON string's content.
func encodedLen[S ~string](s S) int {
	b, _ := json.Marshal(string(s))
	return len(b) - 2
}

// capRecord bounds what a record keeps, whatever its event carried.
func capRecord(rec AccessRecord) AccessRecord {
	rec.Op, rec.Role, rec.At = capText(rec.Op, maxKeptShort), capText(rec.Role, maxKeptShort), capText(rec.At, maxKeptShort)
	rec.RoleBefore, rec.RoleAfter, rec.ExpiresAt = capText(rec.RoleBefore, maxKeptShort), capText(rec.RoleAfter, maxKeptShort), capText(rec.ExpiresAt, maxKeptShort)
	rec.RequestID = capText(rec.RequestID, maxKeptField)
	rec.Message = capText(rec.Message, maxKeptMessage)
	if len(rec.Warnings) > maxKeptWarnings {
		rec.Warnings = append(rec.Warnings[:maxKeptWarnings:maxKeptWarnings], "and "+thousands(len(rec.Warnings)-maxKeptWarnings)+" more")
	}
	for i, w := range rec.Warnings {
		rec.Warnings[i] = capText(w, maxKeptWarning)
	}
	return rec
}

// thousands writes n as people read it: 11,997.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
