package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tabflow/activities"
	"tabflow/internal/clip"
	"tabflow/tableau"
)

// a is used only to name activities in ExecuteActivity (samples-go style);
// the worker registers the real instance.
var a *activities.Activities

// ProvisionInput grants a site role: {"user":"ana@example.com","role":"Explorer"}.
type ProvisionInput struct {
	User string `json:"user"`
	Role string `json:"role"`
	// KeepHigher, set by the access entity, makes Role a minimum: a user
	// whose role Tableau shows higher keeps it (a grant never lowers access).
	KeepHigher bool `json:"keepHigher,omitempty"`
	// IfRole, set by the access entity for an approved reconcile, changes
	// the role only when Tableau shows this one (the plan's actual role).
	IfRole string `json:"ifRole,omitempty"`
	inputProblems
}

// RoleResult says what a role change did; Provision and SetSiteRole return it.
type RoleResult struct {
	User         string `json:"user"`
	UserID       string `json:"userId"`
	PreviousRole string `json:"previousRole"`
	Role         string `json:"role"`
	Changed      bool   `json:"changed"`
	Message      string `json:"message"`
	// Warnings say what may undo a lowered role (a group that licenses at
	// sign-in, an identity provider).
	Warnings []string `json:"warnings,omitempty"`
}

// ProvisionResult is Provision's result.
type ProvisionResult = RoleResult

// Provision sets a user's site role when access is granted. It never creates
// accounts: an unknown user fails, not retried. A user already at the role
// gets no update call.
func Provision(ctx workflow.Context, in ProvisionInput) (*ProvisionResult, error) {
	return changeRole(ctx, ProvisionWorkflow, in, tableau.ParseProvisionableRole)
}

// SetSiteRoleInput sets any settable role, Unlicensed and
// SiteAdministratorCreator included.
type SetSiteRoleInput ProvisionInput

// SetSiteRoleResult is SetSiteRole's result.
type SetSiteRoleResult = RoleResult

// SetSiteRole is site user management: like Provision, for every role
// Tableau's Update User accepts.
func SetSiteRole(ctx workflow.Context, in SetSiteRoleInput) (*SetSiteRoleResult, error) {
	return changeRole(ctx, SetSiteRoleWorkflow, ProvisionInput(in), tableau.ParseSettableRole)
}

// changeRole is Provision and SetSiteRole: they differ in the roles parse accepts.
func changeRole(ctx workflow.Context, name string, in ProvisionInput, parse func(string) (tableau.SiteRole, error)) (res *RoleResult, err error) {
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("%s %s → %s", name, clip.Text(in.User, maxFieldBytes), clip.Text(in.Role, maxFieldBytes)))
	defer func() { res, err = shown(ctx, res, err, (*RoleResult).message) }()
	role, err := in.checked(parse)
	if err != nil {
		return nil, err
	}
	return setRole(ctx, in.User, role, in.KeepHigher, tableau.SiteRole(in.IfRole))
}

// checked is the input's role, or its problems, each naming its field.
func (in ProvisionInput) checked(parse func(string) (tableau.SiteRole, error)) (tableau.SiteRole, error) {
	p := problems(in.problems)
	p.checkUserName("user", in.User)
	role := p.checkRole("role", in.Role, parse)
	if len(in.IfRole) > 64 {
		p.add("ifRole", "is %d bytes long; a site role is at most 64", len(in.IfRole))
	}
	return role, p.err()
}

// Validate checks the input as Provision does before it calls Tableau, so
// a caller (starter) refuses a typo without starting a workflow that fails.
func (in ProvisionInput) Validate() error {
	_, err := in.checked(tableau.ParseProvisionableRole)
	return err
}

// Validate checks the input as SetSiteRole does.
func (in SetSiteRoleInput) Validate() error {
	_, err := ProvisionInput(in).checked(tableau.ParseSettableRole)
	return err
}

// setRole is the look-up activity, the comparison here in the workflow, and
// an update by user ID only when the role differs: every activity is one
// idempotent REST call, and history shows the role before and after. The
// update is a compare-and-set: if the role changed outside tabflow since
// the look-up, nothing is written and the decision is taken again on the
// role Tableau shows now. ifRole, if set, changes the role only from it.
func setRole(ctx workflow.Context, user string, role tableau.SiteRole, keepHigher bool, ifRole tableau.SiteRole) (*RoleResult, error) {
	ctx = workflow.WithActivityOptions(ctx, accessActivity)
	found, err := lookUp(ctx, user)
	if err != nil {
		return nil, err
	}
	if found.User == nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"Tableau user %q was not found on this site. tabflow never creates Tableau accounts: "+
				"ask the user to sign in to Tableau once (for example through SSO) so the account exists, then retry.", user),
			activities.ErrUserNotFound, nil)
	}
	res := &RoleResult{User: user, UserID: found.User.ID}
	for decisions := 1; ; decisions++ {
		shown := found.User.SiteRole
		res.PreviousRole, res.Role = string(shown), string(role)
		switch {
		case ifRole != "" && shown != ifRole:
			res.Role = string(shown)
			res.Message = fmt.Sprintf("%s has site role %s, not %s: nothing changed%s", user, shown, ifRole, movedNote(decisions))
			return res, nil
		case shown == role:
			res.Message = fmt.Sprintf("%s already has site role %s: nothing to change%s", user, role, movedNote(decisions))
			return res, nil
		case keepHigher && tableau.RoleRank(shown) > tableau.RoleRank(role):
			res.Role = string(shown)
			res.Message = fmt.Sprintf("%s has site role %s, above %s: kept, since a grant never lowers access%s", user, shown, role, movedNote(decisions))
			return res, nil
		}
		res.Warnings = lowerWarnings(ctx, found.User, role)
		updated, err := updateRole(ctx, user, found, role)
		if now, moved := movedTo(err); moved && decisions < maxDecisions {
			found = activities.FindUserResult{User: now}
			continue
		}
		if err != nil {
			return nil, err
		}
		res.Role, res.Changed = string(updated.SiteRole), true
		res.Message = fmt.Sprintf("%s: site role %s → %s%s", user, res.PreviousRole, res.Role, movedNote(decisions))
		return res, nil
	}
}

// maxDecisions bounds how often a role change is decided again because the
// role kept changing outside tabflow under it.
const maxDecisions = 5

func lookUp(ctx workflow.Context, user string) (activities.FindUserResult, error) {
	var found activities.FindUserResult
	err := workflow.ExecuteActivity(ctx, a.FindUser, activities.FindUserInput{Name: user}).Get(ctx, &found)
	return found, err
}

// movedTo is the user as Tableau shows them now, when err says the role
// changed outside tabflow under a decision.
func movedTo(err error) (*tableau.User, bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrRoleChanged {
		return nil, false
	}
	var now tableau.User
	if appErr.Details(&now) != nil {
		return nil, false
	}
	return &now, true
}

// movedNote says a decision was taken again because the role changed under it.
func movedNote(decisions int) string {
	if decisions == 1 {
		return ""
	}
	return " (decided again on the role Tableau showed: it changed outside tabflow while this ran)"
}

func (r *RoleResult) message() string        { return r.Message }
func (r *DeprovisionResult) message() string { return r.Message }

// updateRole is the update activity, a compare-and-set on the role found,
// and a check that Tableau applied the role asked for: with no licence
// left, Tableau may answer with another role (e.g. Unlicensed), which must
// never be reported as applied.
func updateRole(ctx workflow.Context, user string, found activities.FindUserResult, role tableau.SiteRole) (*tableau.User, error) {
	u := found.User
	var updated tableau.User
	in := activities.SetSiteRoleInput{UserID: u.ID, Role: role, BasedOn: u.SiteRole, ReadAt: found.ReadAt}
	if err := workflow.ExecuteActivity(ctx, a.SetSiteRole, in).Get(ctx, &updated); err != nil {
		return nil, err
	}
	if updated.SiteRole != role {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"Tableau did not apply site role %s to %s: it answered with site role %s (was %s). "+
				"The site may have no %s licence left; free one or buy more, then retry.",
			role, user, updated.SiteRole, u.SiteRole, role), activities.ErrRoleNotApplied, nil)
	}
	return &updated, nil
}

// DeprovisionInput revokes a role: {"user":"ana@example.com","role":"Explorer"}.
type DeprovisionInput struct {
	User string `json:"user"`
	Role string `json:"role"`
	// FallbackRole, set by the access entity, is the grant the user still
	// holds: the role to set instead of Unlicensed.
	FallbackRole string `json:"fallbackRole,omitempty"`
	inputProblems
}

// DeprovisionResult says what a revoke did and why.
type DeprovisionResult struct {
	User         string `json:"user"`
	UserID       string `json:"userId,omitempty"`
	Found        bool   `json:"found"`
	RevokedRole  string `json:"revokedRole"`
	PreviousRole string `json:"previousRole,omitempty"`
	Role         string `json:"role,omitempty"`
	Changed      bool   `json:"changed"`
	Message      string `json:"message"`
	// Warnings say what may undo the revoke (SPEC §3.1).
	Warnings []string `json:"warnings,omitempty"`
	// Owned is what a user set to Unlicensed still owns.
	Owned *activities.OwnedContent `json:"owned,omitempty"`
}

// checked is the revoked role and the one the user falls back to, or the
// input's problems.
func (in DeprovisionInput) checked() (revoked, next tableau.SiteRole, err error) {
	p := problems(in.problems)
	p.checkUserName("user", in.User)
	revoked = p.checkRole("role", in.Role, tableau.ParseProvisionableRole)
	next = tableau.RoleUnlicensed
	if in.FallbackRole != "" {
		next = p.checkRole("fallbackRole", in.FallbackRole, tableau.ParseProvisionableRole)
	}
	return revoked, next, p.err()
}

// Validate checks the input as Deprovision does before it calls Tableau.
func (in DeprovisionInput) Validate() error {
	_, _, err := in.checked()
	return err
}

// Deprovision sets the user's role to Unlicensed (or FallbackRole) only when
// the revoked role is the user's current one, so a stale or secondary grant
// never strips access the user still holds. It never deletes the user.
func Deprovision(ctx workflow.Context, in DeprovisionInput) (res *DeprovisionResult, err error) {
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Deprovision %s (revoke %s)", clip.Text(in.User, maxFieldBytes), clip.Text(in.Role, maxFieldBytes)))
	defer func() { res, err = shown(ctx, res, err, (*DeprovisionResult).message) }()
	revoked, next, err := in.checked()
	if err != nil {
		return nil, err
	}
	ctx = workflow.WithActivityOptions(ctx, accessActivity)
	res = &DeprovisionResult{User: in.User, RevokedRole: string(revoked)}
	found, err := lookUp(ctx, in.User)
	if err != nil {
		return nil, err
	}
	if found.User == nil {
		res.Message = fmt.Sprintf("Tableau user %q was not found on this site: nothing to revoke", in.User)
		return res, nil
	}
	res.Found, res.UserID = true, found.User.ID
	var updated *tableau.User
	for decisions := 1; ; decisions++ {
		res.PreviousRole, res.Role = string(found.User.SiteRole), string(found.User.SiteRole)
		if found.User.SiteRole != revoked {
			res.Message = fmt.Sprintf("%s has site role %s, not the revoked %s: left unchanged, so a stale or secondary grant does not strip access the user still holds%s",
				in.User, found.User.SiteRole, revoked, movedNote(decisions))
			return res, nil
		}
		res.Warnings = lowerWarnings(ctx, found.User, next)
		updated, err = updateRole(ctx, in.User, found, next)
		if now, moved := movedTo(err); moved && decisions < maxDecisions {
			found = activities.FindUserResult{User: now}
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	res.Role, res.Changed = string(updated.SiteRole), true
	res.Message = fmt.Sprintf("%s: site role %s → %s (access revoked; the user is kept)", in.User, res.PreviousRole, res.Role)
	if next != tableau.RoleUnlicensed {
		res.Message = fmt.Sprintf("%s: site role %s → %s (the %s access revoked; the user still holds %s)", in.User, res.PreviousRole, res.Role, revoked, next)
	} else if licensingChecks(ctx) {
		var note string
		if res.Owned, note = ownedContent(ctx, found.User); note != "" {
			res.Message += ". " + note
		}
	}
	return res, nil
}
