package activities

import (
	"cmp"
	"context"
	"net/url"
	"slices"
	"time"

	"tabflow/tableau"
)

// ConnectionCheck is what a bare sign-in tells.
type ConnectionCheck struct {
	// PATExpiresInSeconds is Tableau's estimate of the PAT's remaining
	// lifetime (the soonest of a pool's); 0 when unknown (JWT, password, or
	// not reported).
	PATExpiresInSeconds int64 `json:"patExpiresInSeconds,omitempty"`
	// PATs is each PAT of a pool: every one is signed in with.
	PATs []PATStatus `json:"pats,omitempty"`
}

// PATStatus is one PAT of a pool at the health check.
type PATStatus struct {
	Name             string `json:"name"`
	OK               bool   `json:"ok"`
	ExpiresInSeconds int64  `json:"expiresInSeconds,omitempty"`
	Error            string `json:"error,omitempty"`
}

// Health check names as metrics label them.
const (
	checkConnection = "connection"
	checkSite       = "site"
	checkContent    = "content"
	checkUserScope  = "user_scope"
)

// observe reports a check's outcome to the health observer, if any.
func (a *Activities) observe(check string, err error) {
	if a.Health != nil {
		a.Health.HealthCheck(check, err == nil)
	}
}

// CheckConnection signs in and out; with a PAT pool, with every PAT of it
// (a rejected one is reported by name, and passes only if another works).
func (a *Activities) CheckConnection(ctx context.Context) (ConnectionCheck, error) {
	out, err := a.checkConnection(ctx)
	a.observe(checkConnection, err)
	if a.Health != nil && out.PATExpiresInSeconds > 0 {
		a.Health.PATExpiresIn(time.Duration(out.PATExpiresInSeconds) * time.Second)
	}
	return out, err
}

func (a *Activities) checkConnection(ctx context.Context) (ConnectionCheck, error) {
	expiry := func(s *tableau.Session) int64 { return int64(s.PATExpiresIn.Seconds()) }
	cfg := a.Tableau.Config()
	if cfg.Auth != tableau.AuthPAT || len(cfg.PATs()) < 2 {
		return inSession(ctx, a, CheckBudget, func(ctx context.Context, s *tableau.Session) (ConnectionCheck, error) {
			return ConnectionCheck{PATExpiresInSeconds: expiry(s)}, nil
		})
	}
	defer heartbeat(ctx)()
	var out ConnectionCheck
	var firstErr error
	for i, p := range cfg.PATs() {
		st := PATStatus{Name: p.Name}
		err := a.Tableau.WithPATSession(withUrgency(ctx), i, CheckBudget, func(_ context.Context, s *tableau.Session) error {
			st.OK, st.ExpiresInSeconds = true, expiry(s)
			return nil
		})
		if err != nil {
			err = classify(ctx, err)
			st.Error = RootMessage(err)
			firstErr = cmp.Or(firstErr, err)
		} else if st.ExpiresInSeconds > 0 && (out.PATExpiresInSeconds == 0 || st.ExpiresInSeconds < out.PATExpiresInSeconds) {
			out.PATExpiresInSeconds = st.ExpiresInSeconds
		}
		out.PATs = append(out.PATs, st)
	}
	if !slices.ContainsFunc(out.PATs, func(s PATStatus) bool { return s.OK }) {
		return out, firstErr // no PAT of the pool works
	}
	return out, nil
}

// SiteCheck is the site behind the session.
type SiteCheck struct {
	SiteID     string `json:"siteId"`
	ContentURL string `json:"contentUrl"`
	Name       string `json:"name"`
}

// CheckSessionSite reads the current session's site.
func (a *Activities) CheckSessionSite(ctx context.Context) (out SiteCheck, err error) {
	defer func() { a.observe(checkSite, err) }()
	return inSession(ctx, a, CheckBudget, func(ctx context.Context, s *tableau.Session) (SiteCheck, error) {
		cur, err := s.CurrentSession(ctx)
		if err != nil {
			return SiteCheck{}, err
		}
		return SiteCheck{SiteID: cur.Site.ID, ContentURL: cur.Site.ContentURL, Name: cur.Site.Name}, nil
	})
}

// ContentCheck says which read proved content access.
type ContentCheck struct {
	Via string `json:"via"` // "collections" or "workbooks"
}

// CheckContentAccess reads collections; servers without the collections
// endpoint (before API 3.28) answer 404, and then a workbook listing is read
// instead.
func (a *Activities) CheckContentAccess(ctx context.Context) (out ContentCheck, err error) {
	defer func() { a.observe(checkContent, err) }()
	return inSession(ctx, a, CheckBudget, func(ctx context.Context, s *tableau.Session) (ContentCheck, error) {
		_, err := s.ListCollections(ctx, url.Values{"limit": {"1"}})
		if err == nil {
			return ContentCheck{Via: "collections"}, nil
		}
		// Only a server without the endpoint (404: before API 3.28) falls
		// back; a 403 or a failure is the answer to "can we read content?".
		if !tableau.IsNotFound(err) {
			return ContentCheck{}, err
		}
		_, err = s.Do(ctx, "GET", "sites/{site-id}/workbooks", url.Values{"pageSize": {"1"}}, nil, nil)
		return ContentCheck{Via: "workbooks"}, err
	})
}

// UserScopeInput is the site found by the Session & Site check.
type UserScopeInput struct {
	SiteID string `json:"siteId"`
}

// UserScopeCheck is how many users the site has, when Tableau said.
type UserScopeCheck struct {
	Total *int `json:"total,omitempty"`
}

// CheckUserScope lists one user of the site to prove user-management rights.
func (a *Activities) CheckUserScope(ctx context.Context, in UserScopeInput) (out UserScopeCheck, err error) {
	defer func() { a.observe(checkUserScope, err) }()
	if in.SiteID == "" {
		return UserScopeCheck{}, invalidInput("siteId is required")
	}
	return inSession(ctx, a, CheckBudget, func(ctx context.Context, s *tableau.Session) (UserScopeCheck, error) {
		var out struct {
			Pagination *tableau.Pagination `json:"pagination"`
		}
		_, err := s.Do(ctx, "GET", "sites/"+url.PathEscape(in.SiteID)+"/users", url.Values{"pageSize": {"1"}}, nil, &out)
		if err != nil || out.Pagination == nil {
			return UserScopeCheck{}, err
		}
		total := int(out.Pagination.TotalAvailable)
		return UserScopeCheck{Total: &total}, nil
	})
}
