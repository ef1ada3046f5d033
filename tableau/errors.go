package tableau

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Tableau error codes tabflow acts on (HTTP status × 1000 + sub-code).
const (
	CodeNoCredentials        = "401000"
	CodeSignInError          = "401001"
	CodeInvalidToken         = "401002" // session replaced/terminated, or JWT scope missing
	CodePageSizeLimit        = "403014"
	CodeSiteNotFound         = "404000"
	CodeVersionUnknown       = "404001"
	CodeUserNotFound         = "404002"
	CodeEndpointNotInVersion = "404008"
	CodeInvalidSiteRole      = "400013"
	CodeUserAlreadyOnSite    = "409017"
	CodeTooManyRequests      = "429000"
)

// APIError is any non-success answer from Tableau. It carries what Tableau
// said and which call it answered; never a token or secret.
type APIError struct {
	StatusCode int    // HTTP status
	Code       string // Tableau's code, e.g. "401002"; empty when the body was not Tableau's
	Summary    string
	Detail     string
	Method     string
	Path       string        // request path without query
	RetryAfter time.Duration // from Retry-After on 429/503, 0 when absent
	SignIn     bool          // the failed call was the sign-in
	APIVersion string        // the API version the call used
	// MissingScope is set on a 401002 answer to a call made with a connected
	// app or a password: the session lacks the scope (or the user the
	// permission) for this call, which no retry fixes. It names the scope.
	MissingScope string
}

func (e *APIError) Error() string {
	if e.SignIn {
		return e.signInMessage()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Tableau %s %s failed (HTTP %d", e.Method, e.Path, e.StatusCode)
	if e.Code != "" {
		b.WriteString(", " + e.Code)
	}
	if e.Summary != "" {
		b.WriteString(", " + e.Summary)
	}
	b.WriteString(")")
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if e.MissingScope != "" {
		fmt.Fprintf(&b, " — the session may not make this call: a connected app's JWT needs the scope %s for it "+
			"(add it to TABLEAU_JWT_SCOPES and to the connected app's allowed scopes); with a username and password, the user lacks the permission", e.MissingScope)
	}
	return b.String()
}

// signInMessage words a rejected sign-in for people (SPEC §2): Tableau's
// summary and detail verbatim, plus what to do for the causes that have one.
func (e *APIError) signInMessage() string {
	var msg string
	if e.Summary != "" {
		msg = fmt.Sprintf("Tableau sign-in failed (HTTP %d, %s): %s", e.StatusCode, e.Summary, e.Detail)
	} else {
		msg = fmt.Sprintf("Tableau sign-in failed (HTTP %d): %s", e.StatusCode, e.Detail)
	}
	if hint := e.signInHint(); hint != "" {
		msg += " — " + hint
	}
	return msg
}

func (e *APIError) signInHint() string {
	switch {
	case e.Code == CodeVersionUnknown:
		return fmt.Sprintf("this Tableau server does not support REST API %s (Tableau Server 2025.1 is the first release that does); "+
			"upgrade the server or set TABLEAU_API_VERSION (or --api-version) to a version it supports, e.g. 3.19 for Tableau Server 2023.1", e.APIVersion)
	case e.Code == CodeSignInError && strings.HasSuffix(e.Detail, "(16)"):
		return "connected app: Tableau could not find the JWT's user (sub), or the JWT's exp is more than 10 minutes ahead"
	case e.Code == CodeSignInError && strings.HasSuffix(e.Detail, "(10084)"):
		return "connected app: Tableau could not parse the JWT (check aud is \"tableau\", the signature and the secret value)"
	case e.Code == CodeSignInError && strings.HasSuffix(e.Detail, "(10085)"):
		return "connected app: Tableau could not find the secret for this client ID (check the client ID and the secret ID, and that the connected app is enabled)"
	}
	return ""
}

// ErrNoSessionToken is a 2xx sign-in response without a token. It is worth a
// retry: Tableau answered but did not issue a session.
var ErrNoSessionToken = errors.New("Tableau sign-in succeeded but returned no session token")

// UnreachableError is a request that got no HTTP answer at all.
type UnreachableError struct {
	Host string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("could not reach Tableau at %s: %v", e.Host, e.Err)
}

// RedirectError is a sign-in redirect tabflow refused to follow.
type RedirectError struct {
	From, To string
	Reason   string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("Tableau sign-in at %s redirected to %q, which tabflow will not follow: %s", e.From, e.To, e.Reason)
}

// InputError is a value that cannot go into a request (a path segment that is
// not a LUID, a user name the filter syntax cannot express): no request is
// made, and no retry helps.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// UserNotFoundError is a user look-up with no match on the site: no user of
// that name, or Tableau's 404002 for a user ID.
type UserNotFoundError struct {
	Name string    // the name looked up, or
	Err  *APIError // Tableau's answer to a look-up by ID
}

func (e *UserNotFoundError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("no Tableau user named %q on this site", e.Name)
}

func (e *UserNotFoundError) Unwrap() error {
	if e.Err == nil {
		return nil
	}
	return e.Err
}

func asAPIError(err error) (*APIError, bool) {
	var e *APIError
	ok := errors.As(err, &e)
	return e, ok
}

// IsNotFound reports any 404 from Tableau (an endpoint this server does not
// have, a site that does not exist, a proxy's 404 page, …) or a failed user
// look-up. To decide that a user does not exist, use IsUserNotFound.
func IsNotFound(err error) bool {
	if IsUserNotFound(err) {
		return true
	}
	e, ok := asAPIError(err)
	return ok && e.StatusCode == http.StatusNotFound
}

// IsUserNotFound reports that the user does not exist: a name look-up with no
// match, or Tableau's 404002. Any other 404 (404000 site not found, a proxy's
// page) is an error, never "no such user".
func IsUserNotFound(err error) bool {
	var nf *UserNotFoundError
	if errors.As(err, &nf) {
		return true
	}
	e, ok := asAPIError(err)
	return ok && e.StatusCode == http.StatusNotFound && e.Code == CodeUserNotFound
}

// IsPermissionDenied reports that the credentials may not do this: HTTP 403
// (other than a page size over the limit), or 401002 on a call made with a
// connected app or a password (a missing scope or permission).
func IsPermissionDenied(err error) bool {
	e, ok := asAPIError(err)
	return ok && (e.StatusCode == http.StatusForbidden && e.Code != CodePageSizeLimit || e.MissingScope != "")
}

// IsSessionInvalidated reports 401002 on a call made with a PAT: another
// sign-in with the same PAT replaced the session, so a retry helps.
func IsSessionInvalidated(err error) bool {
	e, ok := asAPIError(err)
	return ok && !e.SignIn && e.Code == CodeInvalidToken && e.MissingScope == ""
}

// IsSignInRejected reports that Tableau refused the credentials.
func IsSignInRejected(err error) bool {
	e, ok := asAPIError(err)
	return ok && e.SignIn && e.StatusCode >= 400 && e.StatusCode < 500 && e.StatusCode != http.StatusTooManyRequests
}

// IsUnreachable reports that Tableau could not be reached at all.
func IsUnreachable(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u)
}

// IsRateLimited reports HTTP 429.
func IsRateLimited(err error) bool {
	e, ok := asAPIError(err)
	return ok && e.StatusCode == http.StatusTooManyRequests
}

// IsServerError reports an HTTP 5xx.
func IsServerError(err error) bool {
	e, ok := asAPIError(err)
	return ok && e.StatusCode >= 500
}

// RetryAfter returns the delay Tableau asked for with Retry-After.
func RetryAfter(err error) (time.Duration, bool) {
	e, ok := asAPIError(err)
	if !ok || e.RetryAfter <= 0 {
		return 0, false
	}
	return e.RetryAfter, true
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// maxErrorBody is how much of a body that is not Tableau's goes into an error.
const maxErrorBody = 300

// newAPIError builds the error for a non-2xx response body. Tableau's JSON
// error is used when present; otherwise (an HTML 503 from a proxy, say) the
// body, truncated, is the detail. Whatever the body says passes through
// scrub, since a server or proxy may echo what was sent (a sign-in body).
func newAPIError(resp *http.Response, body []byte, now time.Time, secrets ...Secret) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, Method: resp.Request.Method, Path: resp.Request.URL.Path}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	var tableauErr struct {
		Error *struct {
			Summary string          `json:"summary"`
			Detail  string          `json:"detail"`
			Code    json.RawMessage `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &tableauErr) == nil && tableauErr.Error != nil {
		e.Summary = scrub(tableauErr.Error.Summary, maxErrorBody, secrets...)
		e.Detail = scrub(tableauErr.Error.Detail, maxErrorBody, secrets...)
		e.Code = scrub(codeString(tableauErr.Error.Code), 32, secrets...)
		return e
	}
	e.Detail = scrub(strings.TrimSpace(string(body)), maxErrorBody, secrets...)
	if e.Detail == "" {
		e.Detail = http.StatusText(resp.StatusCode)
	}
	return e
}

// codeString accepts the code as a JSON string ("401002", even hex) or number.
func codeString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.Trim(string(raw), `" `)
}
