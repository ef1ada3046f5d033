// Package workflows holds tabflow's Temporal workflows. Their type names,
// signal and query names and JSON inputs and results are a contract that the
// Temporal UI, the temporal CLI and upstream systems script against (SPEC §3).
package workflows

import "strings"

// TaskQueue is the default task queue of a tabflow worker.
const TaskQueue = "tableau"

// Workflow type names.
const (
	ProvisionWorkflow       = "Provision"
	DeprovisionWorkflow     = "Deprovision"
	HealthCheckWorkflow     = "HealthCheck"
	UserAccessWorkflow      = "UserAccess"
	ListUsersWorkflow       = "ListUsers"
	GetUserWorkflow         = "GetUser"
	SetSiteRoleWorkflow     = "SetSiteRole"
	ServerInfoWorkflow      = "ServerInfo"
	CurrentSessionWorkflow  = "CurrentSession"
	ListCollectionsWorkflow = "ListCollections"
	SearchContentWorkflow   = "SearchContent"
	UsageStatsWorkflow      = "UsageStats"
	TableauRequestWorkflow  = "TableauRequest"
	ReconcileWorkflow       = "Reconcile"
)

// Reconcile's update and query.
const (
	// ApproveUpdate approves the published plan: {"planId":"…"}.
	ApproveUpdate = "approve"
	// PlanQuery answers the plan while Reconcile runs.
	PlanQuery = "plan"
)

// UserAccess's signal, updates and queries.
const (
	// AccessSignal carries a grant or revoke, fire and forget. One signal
	// name on purpose: Temporal does not keep arrival order across channels.
	AccessSignal = "access"
	// AccessUpdate carries a grant or revoke and answers with its record
	// once applied; use it with Update-With-Start.
	AccessUpdate = "access"
	// ForgetUpdate ends the entity and its memory (the grants stay in Tableau).
	ForgetUpdate = "forget"
	// HistoryQuery lists the last access events and what became of them.
	HistoryQuery = "history"
	// GrantsQuery lists the grants the entity holds, with their expiry.
	GrantsQuery = "grants"
	// ExpectedQuery answers the role the entity's grants call for (the
	// highest grant or baseline, else Unlicensed): what Reconcile compares.
	ExpectedQuery = "expected"
)

// AccessLatencyMetric is the time from an access event's arrival at its
// entity to its Tableau write, by op (grant, revoke, expire, reconcile);
// Prometheus shows it as tabflow_access_latency_seconds.
const AccessLatencyMetric = "tabflow_access_latency"

// EntityContinuingAsNew starts the access update's refusal while an entity
// continues as new: nothing was applied, and the same update sent again
// reaches the next run (starter does so by itself).
const EntityContinuingAsNew = "the access entity is continuing as new"

// ErrEntityBusy is the type of that refusal: retryable.
const ErrEntityBusy = "EntityBusy"

// UserAccessWorkflowID is the ID of a user's access entity on the site a
// task queue serves: tableau-access/{task queue}/{user, lower-cased}. Tableau
// user names are case-insensitive: one entity per site and user, whatever
// case upstream sends.
func UserAccessWorkflowID(taskQueue, user string) string {
	return "tableau-access/" + taskQueue + "/" + strings.ToLower(strings.TrimSpace(user))
}
