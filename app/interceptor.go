package app

import (
	"errors"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// finishedLogger logs one INFO line per finished workflow (the dev command's
// running commentary), through the workflow logger, which is replay-safe.
type finishedLogger struct {
	interceptor.WorkerInterceptorBase
}

func (*finishedLogger) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &finishedInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

type finishedInbound struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (f *finishedInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	res, err := f.Next.ExecuteWorkflow(ctx, in)
	// Only the kind of outcome, and of failure: what it did and why in
	// words (user names, roles) stays in Temporal, in the workflow's result,
	// failure and current details.
	// The workflow logger already names the workflow type and ID.
	switch {
	case err == nil:
		workflow.GetLogger(ctx).Info("workflow finished", "outcome", "completed")
	case workflow.IsContinueAsNewError(err):
		workflow.GetLogger(ctx).Info("workflow finished", "outcome", "continued as new")
	default:
		workflow.GetLogger(ctx).Info("workflow finished", "outcome", "failed", "reason", failureKind(err))
	}
	return res, err
}

// failureKind names a failure without its message: an application error's
// type (InvalidInput, TableauUserNotFound, …), or what ended the workflow.
func failureKind(err error) string {
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &app) && app.Type() != "":
		return app.Type()
	case temporal.IsCanceledError(err):
		return "canceled"
	case temporal.IsTimeoutError(err):
		return "timed out"
	}
	return "error (see the workflow's failure in Temporal)"
}
