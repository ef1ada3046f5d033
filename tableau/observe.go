package tableau

import (
	"regexp"
	"strings"
	"time"
)

// Observer is told of every request to Tableau and of every wait for a
// PAT's previous session, for metrics. Routes are templates, never names or
// IDs: /api/{version}/sites/{id}/users.
type Observer interface {
	TableauRequest(method, route string, status int, took time.Duration) // status 0: no answer
	PATSessionWait(took time.Duration)
	// PATLeaseWait is time waiting for the PAT's fleet-wide lease (another
	// worker's session), apart from the wait inside this worker.
	PATLeaseWait(took time.Duration)
}

// WithObserver reports requests and PAT waits to o.
func WithObserver(o Observer) Option { return func(c *Client) { c.observer = o } }

type nopObserver struct{}

func (nopObserver) TableauRequest(string, string, int, time.Duration) {}
func (nopObserver) PATSessionWait(time.Duration)                      {}
func (nopObserver) PATLeaseWait(time.Duration)                        {}

var (
	routeWord    = regexp.MustCompile(`^[A-Za-z][A-Za-z-]*$`)
	routeVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
)

// maxRouteSegments bounds a route label (raw requests may be deep).
const maxRouteSegments = 8

// RouteTemplate turns a request path into a bounded label: the API version
// becomes {version}, and every segment that is not a plain word (a LUID, a
// number, anything from input) becomes {id}.
func RouteTemplate(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) > maxRouteSegments {
		segs = append(segs[:maxRouteSegments], "…")
	}
	for i, s := range segs {
		switch {
		case i == 1 && routeVersion.MatchString(s):
			segs[i] = "{version}"
		case s == "-" || s == "…" || routeWord.MatchString(s):
		default:
			segs[i] = "{id}"
		}
	}
	return "/" + strings.Join(segs, "/")
}
