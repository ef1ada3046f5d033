package tableau

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// checkRedirect allows one sign-in redirect (Tableau Cloud sending a client
// to its pod) only over HTTPS and only to a host under the same parent
// domain, so credentials are never re-sent somewhere else.
func (c *Client) checkRedirect(from *url.URL, location string) (*url.URL, error) {
	to, err := from.Parse(location)
	if err != nil || location == "" {
		return nil, &RedirectError{From: from.Host, To: location, Reason: "not a valid URL"}
	}
	if to.Scheme != "https" {
		return nil, &RedirectError{From: from.Host, To: to.String(), Reason: "not HTTPS"}
	}
	if !sameParentDomain(from.Hostname(), to.Hostname()) {
		return nil, &RedirectError{From: from.Host, To: to.String(), Reason: "a host outside " + parentDomain(from.Hostname())}
	}
	return to, nil
}

// sameParentDomain decides whether a sign-in may follow a redirect from one
// host to another: a Tableau Cloud pod only to another pod under
// online.tableau.com; any other host only within its registrable domain,
// decided with the public suffix list (so acme.co.uk never reaches
// evil.co.uk). An IP address only to itself.
func sameParentDomain(from, to string) bool {
	from, to = strings.ToLower(from), strings.ToLower(to)
	switch {
	case from == to:
		return true
	case net.ParseIP(from) != nil || net.ParseIP(to) != nil:
		return false
	case IsTableauCloud(from):
		return IsTableauCloud(to)
	}
	a, errA := publicsuffix.EffectiveTLDPlusOne(from)
	b, errB := publicsuffix.EffectiveTLDPlusOne(to)
	return errA == nil && errB == nil && a == b
}

// parentDomain names what a redirect must stay within, for messages.
func parentDomain(host string) string {
	if IsTableauCloud(host) {
		return "online.tableau.com"
	}
	if d, err := publicsuffix.EffectiveTLDPlusOne(strings.ToLower(host)); err == nil {
		return d
	}
	return host
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(h)
	}
	return strings.ToLower(hostport)
}
