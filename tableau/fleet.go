package tableau

import "context"

// FleetLock extends the in-process PAT lock to every worker of a deployment:
// Tableau allows one live session per PAT, whichever process holds it.
// Acquire blocks until this process may open a session with the PAT named
// by key; lost is closed if the lease must be given up early (it could not be
// renewed in time), and the session's calls are then abandoned and it signs
// out before another worker can be granted the PAT. release ends the lease.
// urgency is the level (SPEC §3.3) to ask at, read at each ask: it may rise
// while the session waits, as more urgent ones queue behind it.
type FleetLock interface {
	Acquire(ctx context.Context, key string, urgency func() int) (lost <-chan struct{}, release func(), err error)
}

// WithFleetLock makes PAT sessions take a fleet-wide lease too (after the
// in-process lock, so one worker asks for one lease at a time per PAT).
func WithFleetLock(l FleetLock) Option { return func(c *Client) { c.fleet = l } }

// PATLeaseKey names a PAT across the fleet: server, site and PAT name (a
// label, never the secret).
func (c Config) PATLeaseKey(p PAT) string {
	site := c.Site
	if site == "" {
		site = "(default)"
	}
	return c.ServerURL + "/" + site + "/" + p.Name
}
