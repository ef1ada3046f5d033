package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"tabflow/tableau"

	"go.temporal.io/sdk/workflow"
)

// record keeps rec, bounded, in Seq order, and shows the entity's state.
func (e *entity) record(ctx workflow.Context, rec AccessRecord) AccessRecord {
	rec = capRecord(rec)
	e.st.record(rec)
	if rec.RoleAfter != "" {
		e.st.Role = tableau.SiteRole(rec.RoleAfter)
	}
	e.show(ctx, &rec)
	return rec
}

// show puts the entity's state in its current details, for the Temporal UI:
// "ana@example.com · Tableau role Explorer · grants: Explorer until … · last:
// grant Explorer applied".
func (e *entity) show(ctx workflow.Context, last *AccessRecord) {
	role := "Tableau role not read yet"
	if e.st.Role != "" {
		role = "Tableau role " + string(e.st.Role)
	}
	grants := "none"
	if view := e.st.grantsView(); len(view) > 0 {
		var gs []string
		for _, g := range view {
			switch {
			case g.Source == SourceTableau:
				gs = append(gs, string(g.Role)+" (given in Tableau)")
			case g.ExpiresAt != nil:
				gs = append(gs, fmt.Sprintf("%s until %s", g.Role, g.ExpiresAt.Format(time.RFC3339)))
			default:
				gs = append(gs, string(g.Role))
			}
		}
		grants = strings.Join(gs, ", ")
	}
	details := fmt.Sprintf("%s · %s · grants: %s", e.in.User, role, grants)
	if last == nil {
		workflow.SetCurrentDetails(ctx, details+" · waiting for events")
		return
	}
	details += fmt.Sprintf(" · last: %s %s %s", last.Op, last.Role, last.Outcome)
	for _, w := range last.Warnings {
		details += " · warning: " + w
	}
	workflow.SetCurrentDetails(ctx, details)
}

// record keeps rec in Seq order (an update handler may record a rejected
// signal while an older event's child runs) and the newest maxHistory.
func (st *UserAccessState) record(rec AccessRecord) {
	i, _ := slices.BinarySearchFunc(st.History, rec.Seq, func(r AccessRecord, seq int) int { return r.Seq - seq })
	st.History = lastN(slices.Insert(st.History, i, rec), maxHistory)
}

// historyPage answers the history query: the newest records kept, or a page
// of older ones.
func (st *UserAccessState) historyPage(page *HistoryPage) ([]AccessRecord, error) {
	recs := st.History
	if page != nil && page.Before > 0 {
		i, _ := slices.BinarySearchFunc(recs, page.Before, func(r AccessRecord, seq int) int { return r.Seq - seq })
		recs = recs[:i]
	}
	if page != nil && page.Limit > 0 {
		recs = lastN(recs, page.Limit)
	}
	return append([]AccessRecord{}, recs...), nil
}
