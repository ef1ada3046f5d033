package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"tabflow/internal/clip"
	"tabflow/tableau"
)

// Version 2 of the access entity, continued (see useraccess_v2.go): frozen.

// expire revokes a time-bound grant whose time is up (outcome expired).
func (e *entityV2) expire(ctx workflow.Context, g Grant) {
	rec := e.newRecord(accessEventV2{Op: "revoke", Role: string(g.Role)}, workflow.Now(ctx), "", "")
	rec.ExpiresAt = g.ExpiresAt.Format(time.RFC3339)
	if e.revoke(ctx, &rec, g.Role, "expire") {
		rec.Outcome = OutcomeExpired
		rec.Message = fmt.Sprintf("the %s grant expired at %s: %s", g.Role, rec.ExpiresAt, rec.Message)
	} else {
		retry := workflow.Now(ctx).Add(expiryRetryDelayV2)
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
func (e *entityV2) dueGrant(ctx workflow.Context) *Grant {
	now := workflow.Now(ctx)
	for i, g := range e.st.Grants {
		if t := dueV2(g); t != nil && !t.After(now) {
			return &e.st.Grants[i]
		}
	}
	return nil
}

func (e *entityV2) nextExpiry() *time.Time {
	var next *time.Time
	for _, g := range e.st.Grants {
		if t := dueV2(g); t != nil && (next == nil || t.Before(*next)) {
			next = t
		}
	}
	return next
}

func dueV2(g Grant) *time.Time {
	if g.RetryAt != nil {
		return g.RetryAt
	}
	return g.ExpiresAt
}

func (e *entityV2) childCtx(ctx workflow.Context, seq int, op Op) workflow.Context {
	return workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: fmt.Sprintf("%s/%d-%s", workflow.GetInfo(ctx).WorkflowExecution.ID, seq, op),
	})
}

// record keeps rec and shows the entityV2's state at a glance in the
// Temporal UI (its current details).
func (e *entityV2) record(ctx workflow.Context, rec AccessRecord) {
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

// parsedEventV2 is a valid event's meaning.
type parsedEventV2 struct {
	op        Op
	role      tableau.SiteRole
	at        *time.Time
	expiresAt *time.Time
}

// parseEventV2 checks an access event; a non-empty message rejects it.
func parseEventV2(ev accessEventV2, now time.Time) (parsedEventV2, string) {
	p := problems(boundedProblemsV2(ev.problems))
	p.checkSizes(ev.current(), maxFieldBytesV2)
	if len(p) > 0 {
		return parsedEventV2{}, "invalid access event: " + joinProblems(p)
	}
	out := parsedEventV2{op: ev.Op}
	if ev.Op != "grant" && ev.Op != "revoke" {
		p.add("op", "%q must be grant or revoke", ev.Op)
	}
	out.role = p.checkRole("role", ev.Role, tableau.ParseProvisionableRole)
	out.at, out.expiresAt = p.checkTimes(ev.current(), ev.Op != OpRevoke, now)
	if len(p) > 0 {
		return parsedEventV2{}, "invalid access event: " + joinProblems(p)
	}
	return out, ""
}

// boundedProblemsV2 shortens decoding problems that quote input (an unknown
// field's name may be of any length).
func boundedProblemsV2(ps []string) []string {
	out := make([]string, len(ps))
	for i, s := range ps {
		out[i] = clip.Text(s, 2*maxFieldBytesV2)
	}
	return out
}

// roleRankV2 orders the provisionable roles, highestV2 first (SPEC §3.1).
var roleRankV2 = []tableau.SiteRole{tableau.RoleCreator, tableau.RoleSiteAdministratorExplorer, tableau.RoleExplorerCanPublish, tableau.RoleExplorer, tableau.RoleViewer}

// highestV2 is the highestV2 role among grants, or "" for none.
func highestV2(grants []Grant) tableau.SiteRole {
	for _, r := range roleRankV2 {
		if slices.ContainsFunc(grants, func(g Grant) bool { return g.Role == r }) {
			return r
		}
	}
	return ""
}

func withoutRoleV2(grants []Grant, role tableau.SiteRole) []Grant {
	return slices.DeleteFunc(slices.Clone(grants), func(g Grant) bool { return g.Role == role })
}

// requestDigest is how a requestId is remembered: 16 bytes of its SHA-256,
