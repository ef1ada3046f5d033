package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"

	"go.temporal.io/sdk/temporal"

	"tabflow/tableau"
)

// Application error types, stable names that workflows, retry policies and
// people in the Temporal UI can rely on.
const (
	ErrTableauUnreachable        = "TableauUnreachable"        // no HTTP answer; retryable
	ErrTableauSignInRejected     = "TableauSignInRejected"     // credentials refused (401001, …); not retryable
	ErrTableauNoSessionToken     = "TableauNoSessionToken"     // 2xx sign-in without a token; retryable
	ErrTableauSessionInvalidated = "TableauSessionInvalidated" // 401002 on a PAT's call (session replaced); retryable
	ErrTableauRateLimited        = "TableauRateLimited"        // 429; retried after Retry-After
	ErrTableauServerError        = "TableauServerError"        // 5xx; retryable
	ErrTableauPermissionDenied   = "TableauPermissionDenied"   // 403, or 401002 with a connected app or password (scope); not retryable
	ErrTableauRequestRejected    = "TableauRequestRejected"    // other 4xx; not retryable
	ErrTableauRedirectRefused    = "TableauRedirectRefused"    // unsafe sign-in redirect; not retryable
	ErrUserNotFound              = "UserNotFound"              // no such user; not retryable
	ErrRoleNotApplied            = "TableauRoleNotApplied"     // Tableau set another role than asked (a licence limit); not retryable
	ErrRoleChanged               = "TableauRoleChanged"        // the role changed outside tabflow since the decision; nothing written; not retryable
	ErrInvalidInput              = "InvalidInput"              // bad input; not retryable
	ErrTableau                   = "TableauError"              // anything else; retryable
)

// ErrorDetails rides along with every Tableau application error, so a
// workflow (or a person in the UI) sees Tableau's own words.
type ErrorDetails struct {
	Status  int    `json:"status,omitempty"`
	Code    string `json:"code,omitempty"`
	Summary string `json:"summary,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// maxRetryAfter caps a Retry-After outside an activity (or when its retry
// policy has no maximum interval).
const maxRetryAfter = time.Minute

// classify turns a tableau error into a Temporal application error with a
// stable type and SPEC §2's retryability: every failure is one of the
// documented types. It returns the application error itself: wrapping it
// again would hide NonRetryable from the SDK.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err() // the activity itself was cancelled or timed out
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The call budget ran out: Tableau (or the network) is too slow.
		return temporal.NewApplicationError("could not reach Tableau: no answer within the call budget ("+err.Error()+")", ErrTableauUnreachable)
	}
	var decided *temporal.ApplicationError
	if errors.As(err, &decided) {
		return decided // already classified by the activity itself
	}
	var apiErr *tableau.APIError
	var details []any
	if errors.As(err, &apiErr) {
		details = []any{ErrorDetails{Status: apiErr.StatusCode, Code: apiErr.Code, Summary: apiErr.Summary, Detail: apiErr.Detail}}
	}
	opts := temporal.ApplicationErrorOptions{Details: details}
	var typ string
	var redirect *tableau.RedirectError
	var input *tableau.InputError
	switch {
	case errors.As(err, &input):
		typ, opts.NonRetryable = ErrInvalidInput, true
	case tableau.IsUnreachable(err):
		typ = ErrTableauUnreachable
	case errors.Is(err, tableau.ErrNoSessionToken):
		typ = ErrTableauNoSessionToken
	case errors.As(err, &redirect):
		typ, opts.NonRetryable = ErrTableauRedirectRefused, true
	case tableau.IsRateLimited(err):
		typ = ErrTableauRateLimited
		opts.NextRetryDelay = retryAfter(ctx, err)
	case tableau.IsServerError(err):
		typ = ErrTableauServerError
		opts.NextRetryDelay = retryAfter(ctx, err) // a 503 may say when to come back
	case tableau.IsSignInRejected(err):
		typ, opts.NonRetryable = ErrTableauSignInRejected, true
	case tableau.IsSessionInvalidated(err):
		typ = ErrTableauSessionInvalidated
	case tableau.IsPermissionDenied(err):
		typ, opts.NonRetryable = ErrTableauPermissionDenied, true
	case tableau.IsUserNotFound(err):
		typ, opts.NonRetryable = ErrUserNotFound, true
	case apiErr != nil && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500:
		typ, opts.NonRetryable = ErrTableauRequestRejected, true
	default:
		typ = ErrTableau
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), typ, opts)
}

// retryAfter is the delay Tableau (or a proxy) asked for, capped at the
// activity's longest retry interval: an hour-long Retry-After must not turn
// into a failure that loses an access decision, so the activity keeps
// retrying at its own pace instead.
func retryAfter(ctx context.Context, err error) time.Duration {
	d, ok := tableau.RetryAfter(err)
	if !ok {
		return 0
	}
	limit := maxRetryAfter
	if activity.IsActivity(ctx) {
		if p := activity.GetInfo(ctx).RetryPolicy; p != nil && p.MaximumInterval > 0 {
			limit = p.MaximumInterval
		}
	}
	return min(d, limit)
}

// invalidInput is a non-retryable error for input an activity cannot use.
func invalidInput(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrInvalidInput, nil)
}

// RootMessage is the innermost application error's message: Tableau's words
// without Temporal's "activity error (…)" wrapping.
func RootMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return "Tableau did not answer in time (" + timeoutErr.TimeoutType().String() + " timeout)"
	}
	return err.Error()
}
