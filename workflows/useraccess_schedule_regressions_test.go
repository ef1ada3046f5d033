package workflows_test

import (
	"testing"

	"tabflow/testsuite"
	"tabflow/workflows"
)

// The smallest failing schedules TestUserAccessRandomSchedules printed while
// the equivalence rule was being built, frozen as they were printed (a seed
// alone would not survive a change to the generator). Each runs through the
// real entity and the model on every CI run.
func TestUserAccessRegressionSchedules(t *testing.T) {
	sig := func(op workflows.Op, role, id, at, d string) sentEvent {
		ev := workflows.AccessEvent{Op: op, Role: role, RequestID: id, Duration: d}
		if at != "" {
			ev.At = "2026-11-23T" + at + "Z"
		}
		return sentEvent{ev: ev}
	}
	upd := func(op workflows.Op, role, id, at, d string) sentEvent {
		e := sig(op, role, id, at, d)
		e.update = true
		return e
	}
	for name, s := range map[string]schedule{
		// An `at` an hour ahead was applied (main), so the real revoke was stale.
		"seed 1: an at from the future": {initialRole: "SiteAdministratorExplorer", steps: []scheduleStep{
			{events: []sentEvent{upd("grant", "Explorer", "r7", "11:07:50", "7m29s")}}}},
		// A signal read after a slow child counted its duration from then.
		"seed 9: a duration counts from arrival": {initialRole: "Explorer", maxPerRun: 1, steps: []scheduleStep{
			{fault: lostAnswer, events: []sentEvent{sig("grant", "Creator", "r7", "", ""), sig("grant", "Viewer", "r11", "", "4m0s")}}}},
		// The superseded r2's memory was kept though r3, which superseded it, failed.
		"seed 29: superseded memory waits for the event that decided": {initialRole: "Unlicensed", maxPerRun: 2, steps: []scheduleStep{
			{fault: refusedWrites, events: []sentEvent{upd("grant", "Explorer", "r1", "", ""), upd("grant", "Viewer", "r2", "", ""), upd("grant", "Viewer", "r3", "08:54:57", "")}},
			{events: []sentEvent{sig("grant", "Viewer", "r5", "09:18:11", "13m15s")}}}},
		// An update refused while the run continued as new arrives after the signal behind it.
		"seed 36: arrival order across continue-as-new": {initialRole: "ExplorerCanPublish", maxPerRun: 1, steps: []scheduleStep{
			{fault: refusedWrites, events: []sentEvent{
				{ev: workflows.AccessEvent{Op: "reconcile", RequestID: "plan-10", Expected: "Explorer", Actual: "ExplorerCanPublish"}, update: true},
				upd("revoke", "Creator", "r11", "10:01:26", ""), sig("grant", "SiteAdministratorExplorer", "r13", "11:25:27", "17m43s")}}}},
		// r7 (older at than the revoke in flight) would be stale at its turn: folding it into r8 made Creator permanent.
		"seed 96: no fold past the event in flight": {initialRole: "Explorer", maxPerRun: 3, steps: []scheduleStep{
			{}, {edit: "Creator", fault: refusedWrites}, {edit: "Explorer"},
			{events: []sentEvent{upd("revoke", "Creator", "r5", "10:39:48", ""), sig("grant", "Creator", "r7", "09:30:11", ""), sig("grant", "Creator", "r8", "", "4m21s")}}}},
		// r8's at, noted when it was superseded, made r13 stale though r10 failed.
		"seed 144: a failed event keeps no memory of what it superseded": {initialRole: "Unlicensed", maxPerRun: 4, steps: []scheduleStep{
			{fault: transient},
			{events: []sentEvent{upd("grant", "ExplorerCanPublish", "r2", "09:48:46", "")}},
			{edit: "Explorer", fault: refusedWrites, events: []sentEvent{sig("revoke", "Viewer", "r7", "", ""), sig("grant", "Explorer", "r8", "10:33:50", ""), sig("grant", "Explorer", "r10", "", "")}},
			{events: []sentEvent{upd("grant", "Explorer", "r13", "09:53:41", "23m55s")}}}},
		// Found by the 20,000-schedule campaign: r7 was folded into a redelivery of r5, which was
		// being applied; the redelivery turned out a duplicate, and r7's longer end was lost.
		"seed 10043: a redelivery of the event in flight is a duplicate at once": {initialRole: "Viewer", maxPerRun: 4, steps: []scheduleStep{
			{fault: lostAnswer},
			{edit: "Unlicensed", events: []sentEvent{upd("grant", "Viewer", "r5", "", "5m40s"), sig("grant", "Viewer", "r7", "10:24:37", "15m36s"), upd("grant", "Viewer", "r5", "", "5m40s")}}}},
		// Found by the campaign: r11 folded into r13 across r12, a revoke of another role; applied in
		// turn, r11 raised Tableau to the SiteAdministratorExplorer grant, which r12 then lowered.
		"seed 6323: no grant folds across another role's revoke": {initialRole: "SiteAdministratorCreator", steps: []scheduleStep{
			{events: []sentEvent{upd("grant", "SiteAdministratorExplorer", "r6", "09:03:51", "")}},
			{edit: "Explorer", fault: lostAnswer},
			{events: []sentEvent{upd("revoke", "Viewer", "r10", "09:40:31", ""), sig("grant", "Viewer", "r11", "", "4m27s"), upd("revoke", "SiteAdministratorExplorer", "r12", "09:33:09", ""), upd("grant", "Viewer", "r13", "", "14m28s")}}}},
		// Found by the campaign: r7 (at 10:15) was folded into r8 (no at), then r8 into r9, stamped
		// 09:26: applied in turn, r9 is stale. The `at` of what was folded now counts.
		"seed 15792: an event's time counts what was folded into it": {initialRole: "Unlicensed", maxPerRun: 1, steps: []scheduleStep{
			{fault: refusedWrites},
			{edit: "Unlicensed", events: []sentEvent{sig("grant", "SiteAdministratorExplorer", "r6", "", "27m16s"), sig("grant", "Explorer", "r7", "10:15:18", "16m27s"), sig("grant", "Explorer", "r8", "", "14m13s"), sig("grant", "Explorer", "r9", "09:26:06", "")}}}},
		// r4 folded into r6 across a rejected revoke; its redelivery is a duplicate.
		"seed 309: a fold across a rejected event": {initialRole: "Explorer", maxPerRun: 4, steps: []scheduleStep{
			{events: []sentEvent{upd("revoke", "ExplorerCanPublish", "r3", "09:41:30", ""), sig("grant", "Explorer", "r4", "", "4m32s"), sig("revoke", "Explorer", "r5", "10:29:29", ""), upd("grant", "Explorer", "r6", "09:30:59", "")}},
			{events: []sentEvent{upd("grant", "Explorer", "r4", "", "4m32s")}}}},
	} {
		t.Run(name, func(t *testing.T) {
			fake := testsuite.StartTableau(t)
			if err := checkSchedule(t, fake, s); err != nil {
				t.Fatalf("%v\n%v", err, s)
			}
		})
	}
}
