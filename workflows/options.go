package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
)

// heartbeatTimeout: activities heartbeat every second while they run, so a
// worker that dies mid-call has its activity retried elsewhere after this,
// rather than after StartToCloseTimeout.
const heartbeatTimeout = 10 * time.Second

// maxPATWait is how long an activity may wait for its PAT's previous session
// in this worker to end. Activities heartbeat while they wait, and waiting
// does not count against their call budget (activities.CheckBudget, …), so
// StartToClose is the budget plus this.
const maxPATWait = 20 * time.Minute

// tableauActivity is the options of an activity of one Tableau session with
// this call budget: it heartbeats, backs off from 1 s to maxInterval, and
// gives up after total (attempts, if not 0).
func tableauActivity(budget, total, maxInterval time.Duration, attempts int32) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    budget + maxPATWait,
		HeartbeatTimeout:       heartbeatTimeout,
		ScheduleToCloseTimeout: total,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    maxInterval,
			MaximumAttempts:    attempts,
		},
	}
}

// Activity options, one set per kind of work. Each activity is one Tableau
// session: its call budget covers sign-in, the call(s) and sign-out.
var (
	// accessActivity changes or reads a user's access. Access decisions must
	// land, so retries ride out a Tableau outage for up to a day, backing off
	// to one attempt a minute. Non-retryable errors (rejected credentials,
	// unknown user, bad input, a missing scope) stop at once.
	accessActivity = tableauActivity(activities.AccessBudget, 24*time.Hour, time.Minute, 0)

	// healthActivity is one health check. A person is waiting for the report,
	// so a down Tableau must fail the check in seconds: three attempts of at
	// most activities.CheckBudget each (plus any wait for the PAT).
	healthActivity = tableauActivity(activities.CheckBudget, 3*activities.CheckBudget+maxPATWait, 4*time.Second, 3)

	// readActivity is browsing and raw calls that are safe to repeat (GET,
	// PUT, DELETE): failures are retried for up to half an hour.
	readActivity = tableauActivity(activities.ReadBudget, 30*time.Minute+maxPATWait, 30*time.Second, 0)

	// sendOnceActivity is a raw call that is not idempotent (POST, PATCH): an
	// Add User whose answer was lost must not be sent again, so a failure
	// after the request may have reached Tableau is reported, never re-sent.
	sendOnceActivity = func() workflow.ActivityOptions {
		o := readActivity
		o.RetryPolicy = &temporal.RetryPolicy{MaximumAttempts: 1}
		return o
	}()
)
