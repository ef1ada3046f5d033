package faketableau

import (
	"fmt"
	"strings"
	"time"
)

// Seeding a fake site, and what a test does behind the client's back (an
// admin's hand edit).

// AddSite creates a site and returns its LUID.
func (s *Server) AddSite(contentURL, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &site{id: newLUID(), contentURL: contentURL, name: name}
	s.sites[contentURL] = st
	return st.id
}

// SiteID returns a site's LUID.
func (s *Server) SiteID(contentURL string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustSite(contentURL).id
}

func (s *Server) mustSite(contentURL string) *site {
	st, ok := s.sites[contentURL]
	if !ok {
		panic(fmt.Sprintf("faketableau: no site %q", contentURL))
	}
	return st
}

// AddUser adds a user to a site (an empty ID gets a fresh LUID) and returns
// the ID.
func (s *Server) AddUser(siteURL string, u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.mustSite(siteURL)
	if u.ID == "" {
		u.ID = newLUID()
	}
	if u.AuthSetting == "" {
		u.AuthSetting = "ServerDefault"
	}
	st.users = append(st.users, &u)
	return u.ID
}

// AddUsers adds n users named user00001@example.com … with the given role.
func (s *Server) AddUsers(siteURL string, n int, role string) {
	for i := 1; i <= n; i++ {
		s.AddUser(siteURL, User{Name: fmt.Sprintf("user%05d@example.com", i), Email: fmt.Sprintf("user%05d@example.com", i), SiteRole: role, LastLogin: "2026-01-01T00:00:00Z"})
	}
}

// SetPassword lets a user sign in with username and password.
func (s *Server) SetPassword(siteURL, userName, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustUser(siteURL, userName).password = password
}

func (s *Server) mustUser(siteURL, name string) *User {
	for _, u := range s.mustSite(siteURL).users {
		if strings.EqualFold(u.Name, name) {
			return u
		}
	}
	panic(fmt.Sprintf("faketableau: no user %q on site %q", name, siteURL))
}

// AddPAT creates a PAT owned by an existing user of the site, valid for
// lifetime (0 = 180 days).
func (s *Server) AddPAT(siteURL, name, secret, owner string, lifetime time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustUser(siteURL, owner)
	if lifetime == 0 {
		lifetime = 180 * 24 * time.Hour
	}
	s.pats[name] = &pat{name: name, secret: secret, site: siteURL, owner: owner, expires: time.Now().Add(lifetime)}
}

// RevokePAT deletes a PAT; its next sign-in fails with 401001.
func (s *Server) RevokePAT(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pats, name)
}

// AddConnectedApp registers a direct-trust connected app on a site.
func (s *Server) AddConnectedApp(siteURL, clientID, secretID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustSite(siteURL)
	s.apps[clientID] = &connectedApp{clientID: clientID, secretID: secretID, secret: secret, site: siteURL}
}

// AddContent adds a searchable item to a site.
func (s *Server) AddContent(siteURL string, c Content) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.mustSite(siteURL)
	if c.LUID == "" {
		c.LUID = newLUID()
	}
	st.content = append(st.content, c)
}

// SetRole changes a user's role behind the client's back.
func (s *Server) SetRole(siteURL, userName, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustUser(siteURL, userName).SiteRole = role
}

// UserByName returns a copy of a user, if present.
func (s *Server) UserByName(siteURL, name string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.mustSite(siteURL).users {
		if strings.EqualFold(u.Name, name) {
			return *u, true
		}
	}
	return User{}, false
}

// Role returns a user's current site role ("" when absent).
func (s *Server) Role(siteURL, name string) string {
	u, _ := s.UserByName(siteURL, name)
	return u.SiteRole
}

// --- counters --------------------------------------------------------------
