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
	outcome := workflow.GetCurrentDetails(ctx)
	if outcome == "" {
		outcome = "completed"
	}
	if err != nil && !workflow.IsContinueAsNewError(err) {
		outcome = "failed: " + err.Error()
	}
	// The workflow logger already names the workflow type and ID.
	workflow.GetLogger(ctx).Info("workflow finished", "outcome", outcome)
	return res, err
}
