// Package urgency is the order work is served in (SPEC §3.3), the same at
// each place it waits: Temporal's task queues (as task-queue Priority), this
// worker's PAT sessions, and the fleet's PAT lease.
package urgency

import "time"

// Levels, most urgent first. They are Temporal PriorityKeys: 1 to 5, where
// an unset key (0) means 3.
const (
	Revoke         = 1 // revokes, expiries, Deprovision, and their look-ups
	Grant          = 2 // grants through the access entity
	Direct         = 3 // direct Provision and SetSiteRole; Temporal's default
	ReconcileApply = 4 // a reconcile plan's changes, applied through the entities
	Read           = 5 // listings, reports, health checks, reconcile's reads
)

// AgingStep is how long a waiter waits to be served one level more urgent,
// so the least urgent (Read) is served like a revoke after 4 × AgingStep:
// a stream of urgent work delays the others, it never starves them.
const AgingStep = 15 * time.Second

// Of is the level of a Temporal PriorityKey: unset or out of range is the
// default, Direct.
func Of(priorityKey int) int {
	if priorityKey < Revoke || priorityKey > Read {
		return Direct
	}
	return priorityKey
}

// Effective is the level a waiter of level u is served at once it has
// waited w: one level more urgent per AgingStep, never past Revoke.
func Effective(u int, waited time.Duration) int {
	return max(Revoke, u-int(waited/AgingStep))
}
