// Command starter is tabflow's CLI: it starts tabflow workflows on Temporal
// (provision, deprovision, grant/revoke through the per-user UserAccess
// workflow, health check, users, content, raw requests) and manages the
// Tableau connection file the worker reads.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"tabflow/workflows"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the workflow failed, or a check did not pass
	exitUsage   = 2 // bad flags or input: nothing was started
	exitTimeout = 3 // --wait gave up before the workflow finished
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type command struct {
	name, args, summary string
	run                 func(a *cli, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"provision", "--user U --role R", "set a user's site role now (direct; bypasses per-user ordering)", cmdProvision},
		{"deprovision", "--user U --role R", "set Unlicensed if R is the user's current role (direct)", cmdDeprovision},
		{"grant", "--user U --role R [--for D | --until T] [--request-id ID] [--at T]", "grant through the user's access entity (ordered; prints the outcome)", cmdGrant},
		{"revoke", "--user U --role R [--request-id ID] [--at T]", "revoke through the user's access entity (ordered; prints the outcome)", cmdRevoke},
		{"access", "show --user U", "the grants the user's access entity holds, and its history", cmdAccess},
		{"reconcile", "[--apply | --approve [--approve-within D]] [--max-changes N] [--inactive-days N] | approve --id W --plan-id P | schedule --every D",
			"compare Tableau's roles with the entities' grants; apply, or publish for approval; or schedule plan runs", cmdReconcile},
		{"healthcheck", "", "run the four connection checks", cmdHealthCheck},
		{"users", "list|get|set-role", "site users: list [--filter F], get --user U|--id ID, set-role --user U --role R", cmdUsers},
		{"content", "collections|search|usage", "content: collections, search --terms T, usage --type T --luid L", cmdContent},
		{"request", "--method M --path P [--query k=v] [--body JSON]", "any Tableau REST call", cmdRequest},
		{"connection", "set|show|clear", "edit, show or remove the Tableau connection file the worker reads", cmdConnection},
		{"version", "", "print starter's version", cmdVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: starter <command> [flags]

Starts tabflow workflows on Temporal and prints their results. Temporal is
found through TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_API_KEY /
TEMPORAL_PROFILE (default localhost:7233, namespace default).

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n  %-12s   %s\n", c.name, c.args, "", c.summary)
	}
	fmt.Fprint(w, `
Workflow commands also take:
  --json          print the result as JSON
  --wait=false    start and print the workflow ID without waiting
  --timeout D     how long to wait (default 2m)
  --task-queue Q  the worker's task queue (default tableau)
  --id ID         workflow ID (provision, deprovision, healthcheck, …)

Run 'starter <command> --help' for a command's flags.
`)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			a := &cli{ctx: ctx, stdin: stdin, out: stdout, errOut: stderr}
			return c.run(a, args[1:])
		}
	}
	fmt.Fprintf(stderr, "starter: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

// cli is one starter invocation.
type cli struct {
	ctx         context.Context
	stdin       io.Reader
	out, errOut io.Writer
	json        bool
	wait        bool
	timeout     time.Duration
	taskQueue   string
	id          string
}

// flags returns a flag set with the workflow flags every command shares.
func (a *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("starter "+name, flag.ContinueOnError)
	fs.SetOutput(a.errOut)
	fs.BoolVar(&a.json, "json", false, "print the result as JSON")
	fs.BoolVar(&a.wait, "wait", true, "wait for the result (false: print the workflow ID and return)")
	fs.DurationVar(&a.timeout, "timeout", 2*time.Minute, "how long to wait for the result")
	fs.StringVar(&a.taskQueue, "task-queue", envOr("TABFLOW_TASK_QUEUE", workflows.TaskQueue), "the worker's task queue")
	fs.StringVar(&a.id, "id", "", "workflow ID (default: generated)")
	return fs
}

// parse parses flags; a usage problem returns exitUsage.
func (a *cli) parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(a.errOut, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return 0, true
}

func (a *cli) usageError(format string, args ...any) int {
	fmt.Fprintf(a.errOut, "starter: "+format+"\n", args...)
	return exitUsage
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (a *cli) dial() (client.Client, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, fmt.Errorf("Temporal client configuration: %w", err)
	}
	if opts.HostPort == "" {
		opts.HostPort = client.DefaultHostPort
	}
	opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("could not connect to Temporal at %s: %w (is the worker's Temporal running? try: go run ./dev)", opts.HostPort, err)
	}
	return c, nil
}

// connect dials Temporal, bounds the command by --timeout and checks that a
// worker polls the task queue; a failure is printed. done closes both.
func (a *cli) connect() (c client.Client, ctx context.Context, done func(), ok bool) {
	c, err := a.dial()
	if err != nil {
		fmt.Fprintln(a.errOut, "error:", err)
		return nil, nil, nil, false
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.timeout)
	done = func() { cancel(); c.Close() }
	if !a.workerPolls(ctx, c) {
		done()
		return nil, nil, nil, false
	}
	return c, ctx, done, true
}

// workflowID is the --id flag or a fresh ID naming the workflow and subject.
func (a *cli) workflowID(kind, subject string) string {
	if a.id != "" {
		return a.id
	}
	if subject != "" {
		return kind + "/" + strings.ToLower(subject) + "/" + rand.Text()[:8]
	}
	return kind + "/" + rand.Text()[:8]
}

// invalid refuses an input its workflow would reject, before anything is
// started: a typo exits 2 and leaves no FAILED workflow in the UI.
func (a *cli) invalid(workflowType string, input any) (int, bool) {
	v, ok := input.(interface{ Validate() error })
	if !ok {
		return 0, false
	}
	err := v.Validate()
	if err == nil {
		return 0, false
	}
	msg := err.Error()
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		msg = app.Message()
	}
	return a.usageError("%s: %s (nothing was started)", workflowType, msg), true
}

// execute starts a workflow and, with --wait, prints its result.
func (a *cli) execute(workflowType, id string, input, result any, show func(w io.Writer)) int {
	if code, bad := a.invalid(workflowType, input); bad {
		return code
	}
	c, ctx, done, ok := a.connect()
	if !ok {
		return exitFailed
	}
	defer done()
	run, err := a.start(ctx, c, workflowType, id, input)
	if err != nil {
		return a.printStartFailure(ctx, err, workflowType, id)
	}
	if !a.wait {
		return a.printStarted(workflowType, run.GetID(), run.GetRunID())
	}
	stopProgress := a.showProgress(ctx, c, run.GetID())
	err = run.Get(ctx, result)
	stopProgress()
	if err != nil {
		return a.printFailure(ctx, err, run.GetID())
	}
	return a.print(result, show)
}

// start starts a workflow.
func (a *cli) start(ctx context.Context, c client.Client, workflowType, id string, input any) (client.WorkflowRun, error) {
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: a.taskQueue, StaticSummary: summary(workflowType, input), Priority: workflows.PriorityOf(workflowType),
		// A running workflow with this ID is reported, never silently joined.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, workflowType, input)
}

func (a *cli) printStartFailure(ctx context.Context, err error, workflowType, id string) int {
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &already):
		fmt.Fprintf(a.errOut, "error: a workflow with ID %q is already running (run %s); wait for it, or use another --id\n", id, already.RunId)
	case gaveUp(ctx, err):
		fmt.Fprintf(a.errOut, "error: gave up after %s before %s started: %v\n", a.timeout, workflowType, err)
		return exitTimeout
	default:
		fmt.Fprintln(a.errOut, "error: starting", workflowType+":", err)
	}
	return exitFailed
}

// gaveUp reports that waiting ended because --timeout ran out (or the
// command was interrupted), however the SDK words it: the context's own
// error, a wrapped deadline, or the server's DeadlineExceeded/Canceled.
func gaveUp(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var deadline *serviceerror.DeadlineExceeded
	var canceled *serviceerror.Canceled
	if errors.As(err, &deadline) || errors.As(err, &canceled) {
		return true
	}
	switch status.Code(err) {
	case codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return false
}

// run starts a workflow and waits for its result.
func (a *cli) run(ctx context.Context, c client.Client, workflowType, id string, input, result any) error {
	run, err := a.start(ctx, c, workflowType, id, input)
	if err != nil {
		return err
	}
	return run.Get(ctx, result)
}

func (a *cli) printStarted(workflowType, id, runID string) int {
	if a.json {
		return a.print(map[string]string{"workflowType": workflowType, "workflowId": id, "runId": runID}, nil)
	}
	fmt.Fprintf(a.out, "started %s: workflow ID %s (run %s)\n", workflowType, id, runID)
	return exitOK
}

// printFailure prints the workflow's own error message, not Temporal's
// wrapping of it.
func (a *cli) printFailure(ctx context.Context, err error, id string) int {
	if gaveUp(ctx, err) {
		fmt.Fprintf(a.errOut, "error: gave up waiting after %s; the workflow goes on: %s\n", a.timeout, id)
		return exitTimeout
	}
	msg, typ := err.Error(), ""
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		msg, typ = appErr.Message(), appErr.Type()
	}
	if a.json {
		a.print(map[string]string{"error": msg, "type": typ, "workflowId": id}, nil)
	} else {
		fmt.Fprintln(a.errOut, "error:", msg)
	}
	return exitFailed
}

// print writes v as JSON (--json) or with show.
func (a *cli) print(v any, show func(w io.Writer)) int {
	if a.json || show == nil {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			fmt.Fprintln(a.errOut, "error:", err)
			return exitFailed
		}
		return exitOK
	}
	show(a.out)
	return exitOK
}
