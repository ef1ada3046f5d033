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
)

// AccessSignal carries every grant and revoke into UserAccess. One signal
// name on purpose: Temporal does not keep arrival order across channels.
const AccessSignal = "access"

// HistoryQuery lists every access event UserAccess has seen and its outcome.
const HistoryQuery = "history"

// UserAccessWorkflowID is the ID of a user's UserAccess workflow, to use with
// signal-with-start. Tableau user names are case-insensitive, so the ID is
// lower-cased: one entity per user, whatever case upstream sends.
func UserAccessWorkflowID(user string) string {
	return "tableau-access/" + strings.ToLower(strings.TrimSpace(user))
}
