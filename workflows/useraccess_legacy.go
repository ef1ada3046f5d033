package workflows

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/workflow"
)

// accessEquivalencePatch marks runs that follow the equivalence rule (SPEC
// §3.1) and apply approved reconcile changes exactly (§3.2). A run started
// before it (main at 9fb2f57) is replayed by whichever worker picks it up
// after an upgrade, so it keeps the decisions it took then until it
// continues as new, when the next run takes the current rules:
//   - the later of two waiting events for a role superseded the other
//     (supersedesLegacy), and an `at` from the future was applied;
//   - signals were read only between events;
//   - a reconcile event carried only the plan's ID and set the role the
//     grants called for (a minimum while the baseline was unknown);
//   - a carried forget ended the run without a second check, a misrouted
//     run applied what it carried, and versions 1 and 2's memories kept
//     every request as a grant.
//
// workflows/testdata/useraccess-entity-main.json, recorded by main's code
// on a real server, replays through these paths.
const accessEquivalencePatch = "access-equivalence"

// admitLegacy is admit's coalescing in a run started before the patch.
func (e *entity) admitLegacy(ctx workflow.Context, p PendingEvent, ev parsedEvent, ticket int) {
	if i := slices.IndexFunc(e.queue, func(q queued) bool { return q.ev.role == ev.role }); i >= 0 {
		w := e.queue[i]
		switch {
		case ev.requestID != "" && w.ev.op == ev.op && w.ev.requestID == ev.requestID:
			e.answer(ctx, e.newRecord(p, OutcomeDuplicate, fmt.Sprintf("%s request %s is already waiting to be applied: ignored", ev.op, capText(ev.requestID, 64))), ticket)
			return
		case !supersedesLegacy(ev, w.ev):
			e.answer(ctx, e.newRecord(p, OutcomeSuperseded, supersededBy(w.PendingEvent)), ticket)
			return
		}
		e.queue = slices.Delete(e.queue, i, i+1)
		e.answer(ctx, e.newRecord(w.PendingEvent, OutcomeSuperseded, supersededBy(p)), w.ticket)
		e.st.remember(w.ev)
	}
	e.queue = append(e.queue, queued{PendingEvent: p, ev: ev, ticket: ticket})
}

// supersedesLegacy: of two events for one role, the one with the later `at`
// (the later arrival when the times are equal or not both given).
func supersedesLegacy(later, earlier parsedEvent) bool {
	if later.at != nil && earlier.at != nil {
		return !later.at.Before(*earlier.at)
	}
	return true
}

// planReconcileLegacy sets the role the grants call for, changing no grant.
func (st *UserAccessState) planReconcileLegacy() change {
	return change{op: OpReconcile, role: expectedRole(st.grantsView()), grants: st.Grants, baseline: st.Baseline, keepHigher: !st.BaselineKnown}
}
