package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
)

// Health check names and messages (SPEC §3, exact).
const (
	CheckConnection = "Validate Tableau API Connection"
	CheckSite       = "Check Tableau Session & Site"
	CheckContent    = "Check Tableau Content Access"
	CheckUserScope  = "Check Tableau User Management Scope"

	msgConnectionOK       = "Successfully connected to Tableau API"
	msgConnectionFailed   = "Unable to connect to Tableau API. Please verify your credentials are valid and the server URL is correct."
	msgSiteDefaultOK      = "Successfully accessed the default Tableau site"
	msgSiteFailed         = "Failed to access the configured Tableau site. Please verify your site content URL and that the PAT has access to it."
	msgContentOK          = "Successfully accessed Tableau content"
	msgContentFailed      = "Failed to access Tableau content. Please verify your token has read permissions."
	msgUsersOK            = "PAT can list site users."
	msgUsersDenied        = "The configured PAT does not have permission to manage site users. Recreate the PAT under a site or server administrator account if user-management workflows are needed."
	msgUsersFailed        = "Failed to list Tableau site users while checking user-management scope."
	msgUsersSiteUnknown   = "Could not look up the current Tableau site before checking user-management scope. Verify the Session & Site check passes first."
	msgNotRun             = "Not run: signing in to Tableau failed (see " + CheckConnection + ")."
	patExpiryWarningAfter = 14 * 24 * time.Hour
)

// HealthCheckInput is empty: {}.
type HealthCheckInput struct {
	inputProblems
}

// HealthCheckResult is the whole report.
type HealthCheckResult struct {
	OK     bool          `json:"ok"`
	Checks []CheckResult `json:"checks"`
	// PATExpiresIn is Tableau's estimate of the PAT's remaining lifetime
	// (e.g. "177d 5h 38m"), when signing in with a PAT.
	PATExpiresIn string `json:"patExpiresIn,omitempty"`
	// PATs is each PAT of a pool, with its lifetime or why Tableau refused it.
	PATs     []PATReport `json:"pats,omitempty"`
	Warnings []string    `json:"warnings,omitempty"`
}

// PATReport is one PAT of a pool in the report.
type PATReport struct {
	Name      string `json:"name"`
	OK        bool   `json:"ok"`
	ExpiresIn string `json:"expiresIn,omitempty"`
	Cause     string `json:"cause,omitempty"`
}

// CheckResult is one row of the report. Cause is the underlying error
// (Tableau's words), never a secret.
type CheckResult struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Cause   string `json:"cause,omitempty"`
	// NotRun marks a check skipped because signing in failed: the sign-in
	// failure is said once, in the connection row.
	NotRun bool `json:"notRun,omitempty"`
}

// HealthCheck runs the four connection checks, each its own activity with a
// short retry budget, and completes with the whole report even when checks
// fail.
func HealthCheck(ctx workflow.Context, in HealthCheckInput) (*HealthCheckResult, error) {
	if err := problems(in.problems).err(); err != nil {
		return nil, err
	}
	ctx = workflow.WithActivityOptions(ctx, healthActivity)
	report := &HealthCheckResult{}

	var conn activities.ConnectionCheck
	err := workflow.ExecuteActivity(ctx, a.CheckConnection).Get(ctx, &conn)
	report.add(CheckConnection, err, msgConnectionOK, msgConnectionFailed)
	for _, p := range conn.PATs {
		r := PATReport{Name: p.Name, OK: p.OK, Cause: p.Error}
		if p.ExpiresInSeconds > 0 {
			r.ExpiresIn = formatDays(time.Duration(p.ExpiresInSeconds) * time.Second)
		}
		if !p.OK {
			report.Warnings = append(report.Warnings, fmt.Sprintf(
				"Tableau refused the PAT %q of the pool (%s): it is left out until it works again; recreate it or remove it from the worker's settings.", p.Name, p.Error))
		}
		report.PATs = append(report.PATs, r)
	}
	if conn.PATExpiresInSeconds > 0 {
		left := time.Duration(conn.PATExpiresInSeconds) * time.Second
		report.PATExpiresIn = formatDays(left)
		if left < patExpiryWarningAfter {
			report.Warnings = append(report.Warnings, fmt.Sprintf(
				"The Personal Access Token expires in %s: create a new PAT in Tableau and update the worker's PAT secret before then.", report.PATExpiresIn))
		}
	}

	if err != nil {
		for _, name := range []string{CheckSite, CheckContent, CheckUserScope} {
			report.Checks = append(report.Checks, CheckResult{Name: name, Message: msgNotRun, NotRun: true})
		}
		return report, report.finish(ctx)
	}

	var site activities.SiteCheck
	err = workflow.ExecuteActivity(ctx, a.CheckSessionSite).Get(ctx, &site)
	siteOK := msgSiteDefaultOK
	if site.ContentURL != "" {
		siteOK = fmt.Sprintf("Successfully accessed Tableau site %q", site.ContentURL)
	}
	report.add(CheckSite, err, siteOK, msgSiteFailed)

	var content activities.ContentCheck
	err = workflow.ExecuteActivity(ctx, a.CheckContentAccess).Get(ctx, &content)
	report.add(CheckContent, err, msgContentOK, msgContentFailed)

	if site.SiteID == "" {
		report.Checks = append(report.Checks, CheckResult{Name: CheckUserScope, Message: msgUsersSiteUnknown})
	} else {
		var scope activities.UserScopeCheck
		err = workflow.ExecuteActivity(ctx, a.CheckUserScope, activities.UserScopeInput{SiteID: site.SiteID}).Get(ctx, &scope)
		usersOK := msgUsersOK
		if scope.Total != nil {
			usersOK = fmt.Sprintf("PAT can list site users (%d total).", *scope.Total)
		}
		usersFailed := msgUsersFailed
		if errorType(err) == activities.ErrTableauPermissionDenied {
			usersFailed = msgUsersDenied
		}
		report.add(CheckUserScope, err, usersOK, usersFailed)
	}

	return report, report.finish(ctx)
}

// HealthyMemo is the memo key that says whether a HealthCheck passed, so an
// unhealthy report shows in the workflow list without opening it.
const HealthyMemo = "TabflowHealthy"

// finish sets OK, the one-line summary in the workflow's current details
// (e.g. "HealthCheck: 3 of 4 checks passed — content access failed") and
// the TabflowHealthy memo.
func (r *HealthCheckResult) finish(ctx workflow.Context) error {
	r.OK = true
	passed := 0
	var failed []string
	for _, c := range r.Checks {
		r.OK = r.OK && c.OK
		if c.OK {
			passed++
		} else if !c.NotRun {
			failed = append(failed, checkShortNames[c.Name])
		}
	}
	summary := fmt.Sprintf("HealthCheck: %d of %d checks passed", passed, len(r.Checks))
	if len(failed) > 0 {
		summary += " — " + strings.Join(failed, ", ") + " failed"
	}
	workflow.SetCurrentDetails(ctx, summary)
	return workflow.UpsertMemo(ctx, map[string]any{HealthyMemo: r.OK})
}

var checkShortNames = map[string]string{
	CheckConnection: "connection", CheckSite: "site access", CheckContent: "content access", CheckUserScope: "user management",
}

func (r *HealthCheckResult) add(name string, err error, okMsg, failMsg string) {
	if err == nil {
		r.Checks = append(r.Checks, CheckResult{Name: name, OK: true, Message: okMsg})
		return
	}
	r.Checks = append(r.Checks, CheckResult{Name: name, Message: failMsg, Cause: activities.RootMessage(err)})
}

func errorType(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return ""
}

func formatDays(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	return fmt.Sprintf("%dd %dh %dm", days, hours, mins)
}
