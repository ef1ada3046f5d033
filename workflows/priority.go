package workflows

import (
	"go.temporal.io/sdk/temporal"

	"tabflow/internal/urgency"
)

// Where each workflow stands in the order of urgency (SPEC §3.3). A
// workflow's Temporal Priority orders its tasks in the task queue, and its
// activities and child workflows inherit it, so a revoke's look-up and
// update go before a bulk onboarding's, however long its queue.
var urgencies = map[string]int{
	DeprovisionWorkflow: urgency.Revoke,
	// The entity decides what each event's child waits behind; its own
	// workflow tasks (taking events, answering queries) never wait.
	UserAccessWorkflow:      urgency.Revoke,
	ProvisionWorkflow:       urgency.Direct,
	SetSiteRoleWorkflow:     urgency.Direct,
	HealthCheckWorkflow:     urgency.Read,
	ListUsersWorkflow:       urgency.Read,
	GetUserWorkflow:         urgency.Read,
	ServerInfoWorkflow:      urgency.Read,
	CurrentSessionWorkflow:  urgency.Read,
	ListCollectionsWorkflow: urgency.Read,
	SearchContentWorkflow:   urgency.Read,
	UsageStatsWorkflow:      urgency.Read,
	TableauRequestWorkflow:  urgency.Read,
	ReconcileWorkflow:       urgency.Read,
}

// PriorityOf is the Temporal Priority to start a workflow of this type with
// (Temporal's default for a type it does not know).
func PriorityOf(workflowType string) temporal.Priority {
	return temporal.Priority{PriorityKey: urgencies[workflowType]}
}

// eventUrgency is the urgency of the child that carries out an entity's
// event: revokes and expiries first, then grants, then reconcile's applies.
func eventUrgency(op Op) int {
	switch op {
	case OpGrant:
		return urgency.Grant
	case OpReconcile:
		return urgency.ReconcileApply
	default: // revoke, expire
		return urgency.Revoke
	}
}
