package app

import (
	"go.temporal.io/sdk/interceptor"
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
	// Only the kind of outcome: what it did (user names, roles) stays in
	// Temporal, in the workflow's result and current details.
	outcome := "completed"
	switch {
	case workflow.IsContinueAsNewError(err):
		outcome = "continued as new"
	case err != nil:
		outcome = "failed"
	}
	// The workflow logger already names the workflow type and ID.
	workflow.GetLogger(ctx).Info("workflow finished", "outcome", outcome)
	return res, err
}
