// Package tableau is tabflow's client for the Tableau REST API (Tableau Cloud
// and Tableau Server), in JSON.
//
// A Client holds one connection (Config: host, site, credentials) and no
// session. Work happens inside a session that lives for one unit of work:
//
//	c, err := tableau.NewClient(cfg)
//	err = c.WithSession(ctx, 0, func(ctx context.Context, s *tableau.Session) error {
//		u, err := s.FindUserByName(ctx, "ana@example.com")
//		if err != nil {
//			return err
//		}
//		_, err = s.UpdateSiteRole(ctx, u.ID, tableau.RoleExplorer)
//		return err
//	})
//
// WithSession signs in (PAT, connected-app JWT or username and password),
// runs the function and always signs out. Tableau allows one live session per
// PAT, so sessions of the same PAT are serialised within the process; JWT and
// password sessions run in parallel.
//
// Every non-2xx answer is an *APIError carrying Tableau's status, code,
// summary and detail; IsNotFound, IsPermissionDenied, IsSessionInvalidated,
// IsSignInRejected, IsUnreachable, IsRateLimited, IsServerError and
// RetryAfter classify errors for retry decisions. Credentials are Secret
// values, which print only in masked form.
package tableau
