package tableau

import "context"

// FleetLock extends the in-process PAT lock to every worker of a deployment:
// Tableau allows one live session per PAT, whichever process holds it.
// Acquire blocks until this process may open a session with the PAT named
// by key; lost is closed if the lease must be given up early (it could not be
// renewed in time), and the session's calls are then abandoned and it signs
// out before another worker can be granted the PAT. release ends the lease.
type FleetLock interface {
	Acquire(ctx context.Context, key string, urgency SessionUrgency) (lost <-chan struct{}, release func(), err error)
}

// SessionUrgency is how urgent (SPEC §3.3) a session asking for a PAT's
// lease is, and the sessions of this process waiting behind it.
type SessionUrgency struct {
	Own int
	// Behind is the most urgent level among this process's sessions
	// waiting for the PAT (0: none); it changes as they come and go.
	Behind func() int
}

// Ask is the level to ask the lease at: the most urgent of the session and
// those behind it, so a revoke queued behind a bulk's session is not held
// behind the bulk's level across the fleet.
func (u SessionUrgency) Ask() int {
	if behind := u.Behind(); behind != 0 && behind < u.Own {
		return behind
	}
	return u.Own
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
