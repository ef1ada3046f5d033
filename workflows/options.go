package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// heartbeatTimeout: activities heartbeat every second while they run, so a
// worker that dies mid-call has its activity retried elsewhere after this,
// rather than after StartToCloseTimeout.
const heartbeatTimeout = 10 * time.Second

// Activity options, one set per kind of work. Each activity is one Tableau
// session, so StartToClose covers sign-in, the call(s) and sign-out, plus any
// wait for the PAT's previous session in this worker to end.
var (
	// accessActivity changes or reads a user's access. Access decisions must
	// land, so retries ride out a Tableau outage for up to a day, backing off
	// to one attempt a minute. Non-retryable errors (rejected credentials,
	// unknown user, bad input) stop at once.
	accessActivity = workflow.ActivityOptions{
		StartToCloseTimeout:    2 * time.Minute,
		HeartbeatTimeout:       heartbeatTimeout,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	}

	// healthActivity is one health check. A person is waiting for the report,
	// so a down Tableau must fail the check in seconds: three attempts within
	// at most 20 seconds.
	healthActivity = workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 20 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    4 * time.Second,
			MaximumAttempts:    3,
		},
	}

	// readActivity is browsing and raw calls: a listing of many users may take
	// minutes; failures are retried for up to half an hour.
	readActivity = workflow.ActivityOptions{
		StartToCloseTimeout:    5 * time.Minute,
		HeartbeatTimeout:       heartbeatTimeout,
		ScheduleToCloseTimeout: 30 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	}
)
