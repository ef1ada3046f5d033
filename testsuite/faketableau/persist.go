package faketableau

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
)

// PersistRoles keeps the site roles of the fake's users in a JSON file: the
// roles saved there are applied now, and every role change is saved. The dev
// command uses it so the sandbox remembers what Temporal's history says was
// done, across restarts.
func (s *Server) PersistRoles(path string) error {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rolesFile = path
	if len(data) == 0 {
		return nil
	}
	var saved map[string]map[string]string // site → user → role
	if err := json.Unmarshal(data, &saved); err != nil {
		return err
	}
	for siteURL, users := range saved {
		st, ok := s.sites[siteURL]
		if !ok {
			continue
		}
		for _, u := range st.users {
			if role, ok := users[u.Name]; ok {
				u.SiteRole = role
			}
		}
	}
	return nil
}

// saveRoles writes every user's role to the roles file, if any. Called with
// s.mu held.
func (s *Server) saveRoles() {
	if s.rolesFile == "" {
		return
	}
	out := map[string]map[string]string{}
	for url, st := range s.sites {
		out[url] = map[string]string{}
		for _, u := range st.users {
			out[url][u.Name] = u.SiteRole
		}
	}
	data, _ := json.MarshalIndent(out, "", "  ")
	os.WriteFile(s.rolesFile, data, 0o600)
}
