package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"go.temporal.io/sdk/client"

	"tabflow/internal/every"
	"tabflow/workflows"
)

// summary is the one line the Temporal UI shows for a workflow started here.
func summary(workflowType string, input any) string {
	switch in := input.(type) {
	case workflows.ProvisionInput:
		return fmt.Sprintf("Provision %s → %s", in.User, in.Role)
	case workflows.DeprovisionInput:
		return fmt.Sprintf("Deprovision %s (revoke %s)", in.User, in.Role)
	case workflows.SetSiteRoleInput:
		return fmt.Sprintf("SetSiteRole %s → %s", in.User, in.Role)
	case workflows.ReconcileInput:
		switch in.Mode {
		case workflows.ReconcileAuto:
			limit := "maxChanges"
			if in.MaxChanges != nil {
				limit = fmt.Sprint(*in.MaxChanges)
			}
			return "Reconcile, auto: applies at once if at most " + limit + " users drifted"
		case workflows.ReconcileApprove:
			return fmt.Sprintf("Reconcile, approve: a plan that waits %s for approval", in.ApproveWithin)
		}
		return "Reconcile, plan only: changes nothing"
	}
	return workflowType + " (started by tabflow starter)"
}

// showProgress, on a terminal, says how to follow the workflow and then,
// while it runs, what its activities are going through:
// "FindUser attempt 4: could not reach Tableau… retrying in 8s".
func (a *cli) showProgress(ctx context.Context, c client.Client, id string) (stop func()) {
	f, ok := a.errOut.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return func() {}
	}
	fmt.Fprintf(f, "following %s: temporal workflow show -w %s (Web UI: http://localhost:8233/namespaces/default/workflows/%s)\n", id, id, id)
	last := ""
	return every.Tick(ctx, time.Second, func() bool {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return true
		}
		for _, p := range d.GetPendingActivities() {
			if p.GetAttempt() < 2 || p.GetLastFailure() == nil {
				continue
			}
			line := fmt.Sprintf("%s attempt %d: %s", p.GetActivityType().GetName(), p.GetAttempt(), p.GetLastFailure().GetMessage())
			if next := p.GetNextAttemptScheduleTime(); next != nil {
				line += fmt.Sprintf(" — retrying in %s", time.Until(next.AsTime()).Round(time.Second))
			}
			if line != last {
				fmt.Fprintln(f, line)
				last = line
			}
		}
		return true
	})
}

func cmdVersion(a *cli, args []string) int {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(a.out, "starter (no build information)")
		return exitOK
	}
	version := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			version += " " + s.Value
		}
	}
	var sdk string
	for _, d := range info.Deps {
		if d.Path == "go.temporal.io/sdk" {
			sdk = d.Version
		}
	}
	fmt.Fprintf(a.out, "tabflow starter %s (%s, Temporal Go SDK %s)\n", strings.TrimSpace(version), info.GoVersion, sdk)
	return exitOK
}
