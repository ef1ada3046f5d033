package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"tabflow/tableau"
	"tabflow/workflows"
)

func cmdGrant(a *cli, args []string) int  { return a.access("grant", args) }
func cmdRevoke(a *cli, args []string) int { return a.access("revoke", args) }

// access sends one event to the user's access entity on this task queue's
// site: by Update-With-Start, answering with what became of it, or with
// --wait=false by signal-with-start (fire and forget).
func (a *cli) access(op string, args []string) int {
	fs := a.flags(op)
	u := fs.String("user", "", "Tableau user name")
	r := fs.String("role", "", "site role")
	reqID := fs.String("request-id", "", "the upstream request's ID; a request applied once is a duplicate ever after (default: generated)")
	at := fs.String("at", "", "the upstream event time, RFC 3339 (default: now); events older than the last applied one are stale")
	var forDur time.Duration
	var until string
	if op == "grant" {
		fs.DurationVar(&forDur, "for", 0, "a time-bound grant: the entity revokes it after this long (e.g. 8h)")
		fs.StringVar(&until, "until", "", "a time-bound grant: the entity revokes it at this RFC 3339 time")
	}
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	user := strings.TrimSpace(*u)
	if user == "" {
		return a.usageError("%s: --user is required", op)
	}
	if _, err := tableau.ParseProvisionableRole(*r); err != nil {
		return a.usageError("%s: --role %v", op, err)
	}
	ev := workflows.AccessEvent{Op: workflows.Op(op), Role: *r, RequestID: *reqID, At: *at, ExpiresAt: until}
	if ev.RequestID == "" {
		ev.RequestID = "cli-" + rand.Text()[:12]
	}
	if ev.At == "" {
		ev.At = time.Now().UTC().Format(time.RFC3339)
	} else if _, err := time.Parse(time.RFC3339, ev.At); err != nil {
		return a.usageError("%s: --at %q must be an RFC 3339 time such as 2026-11-23T10:00:00Z", op, ev.At)
	}
	switch {
	case forDur < 0:
		return a.usageError("grant: --for must be positive")
	case forDur > 0 && until != "":
		return a.usageError("grant: give --for or --until, not both")
	case forDur > 0:
		ev.Duration = forDur.String()
	case until != "":
		if t, err := time.Parse(time.RFC3339, until); err != nil || !t.After(time.Now()) {
			return a.usageError("grant: --until %q must be a future RFC 3339 time such as 2026-11-23T18:00:00Z", until)
		}
	}
	c, ctx, done, ok := a.connect()
	if !ok {
		return exitFailed
	}
	defer done()
	start := workflows.EntityStartOptions(a.taskQueue, user)
	id := start.ID
	input := workflows.UserAccessInput{User: user}
	if !a.wait {
		run, err := c.SignalWithStartWorkflow(ctx, id, workflows.AccessSignal, ev, start, workflows.UserAccessWorkflow, input)
		if err != nil {
			return a.printStartFailure(ctx, err, workflows.UserAccessWorkflow, id)
		}
		return a.printStarted(workflows.UserAccessWorkflow, id, run.GetRunID())
	}
	rec, err := workflows.SendAccess(ctx, c, a.taskQueue, input, ev)
	if err != nil {
		if gaveUp(ctx, err) {
			fmt.Fprintf(a.errOut, "error: gave up waiting after %s; request %s may still be applied by %s\n", a.timeout, ev.RequestID, id)
			return exitTimeout
		}
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			err = errors.New(appErr.Message()) // the validator's words
		}
		fmt.Fprintf(a.errOut, "error: %s %s %s rejected: %v\n", op, *r, user, err)
		return exitFailed
	}
	code := a.print(rec, func(w io.Writer) {
		fmt.Fprintf(w, "%s %s %s: %s — %s\n", op, *r, user, rec.Outcome, rec.Message)
		for _, warning := range rec.Warnings {
			fmt.Fprintf(w, "warning: %s\n", warning)
		}
	})
	if rec.Outcome == workflows.OutcomeFailed || rec.Outcome == workflows.OutcomeRejected {
		return exitFailed
	}
	return code
}

// workerPolls checks that a worker polls the task queue before anything is
// started on it: a workflow on a queue nobody polls (a typo in
// --task-queue) would wait forever, and an entity parked there would hold
// every later event for that user.
// A worker that has just started may not have polled yet, so the check
// waits a few seconds for one.
func (a *cli) workerPolls(ctx context.Context, c client.Client) bool {
	deadline := time.Now().Add(pollerGrace)
	for {
		resp, err := c.DescribeTaskQueue(ctx, a.taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			fmt.Fprintf(a.errOut, "error: could not check task queue %q: %v\n", a.taskQueue, err)
			return false
		}
		if len(resp.GetPollers()) > 0 {
			return true
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(a.errOut, "error: no worker is polling %q: start the worker for that Tableau site (go run ./worker -task-queue %s), or check --task-queue\n", a.taskQueue, a.taskQueue)
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// pollerGrace is how long starter waits for a worker to poll a task queue.
const pollerGrace = 5 * time.Second

// accessShow prints the grants an entity holds and its recent history.
func (a *cli) accessShow(args []string) int {
	fs := a.flags("access show")
	u := fs.String("user", "", "Tableau user name")
	limit := fs.Int("limit", 20, "how many of the latest records to show (the entity keeps 200)")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	user := strings.TrimSpace(*u)
	if user == "" {
		return a.usageError("access show: --user is required")
	}
	c, ctx, done, ok := a.connect()
	if !ok {
		return exitFailed
	}
	defer done()
	id := workflows.UserAccessWorkflowID(a.taskQueue, user)
	var out entityView
	out.WorkflowID = id
	for _, q := range []struct {
		name string
		dst  any
		args []any
	}{{workflows.GrantsQuery, &out.Grants, nil}, {workflows.HistoryQuery, &out.History, []any{workflows.HistoryPage{Limit: *limit}}}} {
		v, err := c.QueryWorkflow(ctx, id, "", q.name, q.args...)
		if err == nil {
			err = v.Get(q.dst)
		}
		if err != nil {
			fmt.Fprintf(a.errOut, "error: reading %s of %s: %v\n", q.name, id, err)
			return exitFailed
		}
	}
	return a.print(out, func(w io.Writer) { showEntity(w, out) })
}

// entityView is what access show prints: the entity's grants and latest records.
type entityView struct {
	WorkflowID string                   `json:"workflowId"`
	Grants     []workflows.Grant        `json:"grants"`
	History    []workflows.AccessRecord `json:"history"`
}

// showEntity prints the grants once per role and the records with their
// warnings (a group that licenses at sign-in, an identity provider, owned
// content, drift): where an admin reads what a change did.
func showEntity(w io.Writer, v entityView) {
	fmt.Fprintf(w, "%s\n\ngrants:\n", v.WorkflowID)
	if len(v.Grants) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, line := range grantLines(v.Grants) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintln(w, "\nhistory:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SEQ\tOP\tROLE\tREQUEST\tOUTCOME\tMESSAGE")
	for _, r := range v.History {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Op, r.Role, r.RequestID, r.Outcome, r.Message)
		for _, warning := range r.Warnings {
			fmt.Fprintf(tw, "  \t\t\t\t\twarning: %s\n", warning)
		}
	}
	tw.Flush()
}

// grantLines says each role the entity holds once, with every reason it
// holds it (a grant until revoked or until a time, access given in
// Tableau), so one role never reads as two.
func grantLines(grants []workflows.Grant) []string {
	var roles []tableau.SiteRole
	reasons := map[tableau.SiteRole][]string{}
	for _, g := range grants {
		if _, seen := reasons[g.Role]; !seen {
			roles = append(roles, g.Role)
		}
		reason := "until revoked"
		switch {
		case g.Source == workflows.SourceTableau:
			reason = "given in Tableau (kept: a grant never lowers it)"
		case g.ExpiresAt != nil:
			reason = "until " + g.ExpiresAt.Format(time.RFC3339)
		}
		reasons[g.Role] = append(reasons[g.Role], reason)
	}
	lines := make([]string, len(roles))
	for i, r := range roles {
		lines[i] = string(r) + " " + strings.Join(reasons[r], ", and ")
	}
	return lines
}

func cmdAccess(a *cli, args []string) int {
	if len(args) == 0 || args[0] != "show" {
		return a.usageError("access: say show --user U")
	}
	return a.accessShow(args[1:])
}
