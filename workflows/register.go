package workflows

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
)

// All maps every workflow type name to its function.
var All = map[string]any{
	ProvisionWorkflow:       Provision,
	DeprovisionWorkflow:     Deprovision,
	HealthCheckWorkflow:     HealthCheck,
	UserAccessWorkflow:      UserAccess,
	ListUsersWorkflow:       ListUsers,
	GetUserWorkflow:         GetUser,
	SetSiteRoleWorkflow:     SetSiteRole,
	ServerInfoWorkflow:      ServerInfo,
	CurrentSessionWorkflow:  CurrentSession,
	ListCollectionsWorkflow: ListCollections,
	SearchContentWorkflow:   SearchContent,
	UsageStatsWorkflow:      UsageStats,
	TableauRequestWorkflow:  TableauRequest,
	PATLeaseWorkflow:        PATLease,
	PATLeaseV2Workflow:      PATLeaseV2,
	ReconcileWorkflow:       Reconcile,
}

// RegisterLeases registers the PAT lease workflows (the current protocol and
// the one older releases use), for the worker of LeaseTaskQueue.
func RegisterLeases(r worker.Registry) {
	r.RegisterWorkflowWithOptions(PATLeaseV2, workflow.RegisterOptions{Name: PATLeaseV2Workflow})
	r.RegisterWorkflowWithOptions(PATLease, workflow.RegisterOptions{Name: PATLeaseWorkflow})
}

// Register registers every workflow under its SPEC name, and the activities.
func Register(r worker.Registry, acts *activities.Activities) {
	for name, fn := range All {
		r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
	r.RegisterActivityWithOptions(acts, activity.RegisterOptions{})
}
