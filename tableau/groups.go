package tableau

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
)

// Group is a group a user belongs to (Get Groups for a User, API 3.7+).
// Import is set on groups synchronised from Active Directory or an identity
// provider; with a GrantLicenseMode of onLogin or onSync (or a
// MinimumSiteRole) the group licenses its members at sign-in or sync.
type Group struct {
	ID              string       `json:"id"`
	Name            string       `json:"name"`
	Import          *GroupImport `json:"import,omitempty"`
	MinimumSiteRole SiteRole     `json:"minimumSiteRole,omitempty"`
}

// GroupImport is a group's import element.
type GroupImport struct {
	DomainName       string   `json:"domainName,omitempty"`
	SiteRole         SiteRole `json:"siteRole,omitempty"`
	GrantLicenseMode string   `json:"grantLicenseMode,omitempty"`
}

// LicensingRole is the site role the group gives its members when they sign
// in or sync, or "" when it licenses nobody: a hand demotion below it is
// undone then (Tableau KB: minimum site roles only ever promote).
func (g Group) LicensingRole() SiteRole {
	if g.MinimumSiteRole != "" {
		return g.MinimumSiteRole
	}
	if g.Import != nil && (g.Import.GrantLicenseMode == "onLogin" || g.Import.GrantLicenseMode == "onSync") {
		return g.Import.SiteRole
	}
	return ""
}

// maxGroupPages bounds the walk over a user's groups (1,000 a page).
const maxGroupPages = 100

// UserGroups lists every group the user belongs to, page by page.
func (s *Session) UserGroups(ctx context.Context, userID string) ([]Group, error) {
	if err := CheckLUID(userID); err != nil {
		return nil, err
	}
	var all []Group
	for page := 1; page <= maxGroupPages; page++ {
		var out struct {
			Pagination Pagination `json:"pagination"`
			Groups     struct {
				Group oneOrMany[Group] `json:"group"`
			} `json:"groups"`
		}
		q := url.Values{"pageSize": {strconv.Itoa(MaxPageSize)}, "pageNumber": {strconv.Itoa(page)}}
		if err := s.get(ctx, s.sitePath("users", userID, "groups"), q, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Groups.Group...)
		if len(out.Groups.Group) < MaxPageSize || len(all) >= int(out.Pagination.TotalAvailable) {
			return all, nil
		}
	}
	return nil, fmt.Errorf("user %s is in more than %d groups: refusing to page further", userID, maxGroupPages*MaxPageSize)
}

// Owned is what a user owns of one kind of content: how many, and the
// first names (up to the page size asked for).
type Owned struct {
	Count int      `json:"count"`
	Names []string `json:"names,omitempty"`
}

// maxOwnedNames is how many names of each kind a result lists.
const maxOwnedNames = 10

// OwnedContent counts the workbooks, data sources and flows a user owns
// (Tableau keeps them when the user is Unlicensed) and names the first few,
// so an admin can hand them over. Workbooks are read by user ID; data
// sources and flows by Tableau's ownerName filter, tried with each of names
// in turn (the user name, then the display name: which one the filter
// matches is unconfirmed) until one finds something.
func (s *Session) OwnedContent(ctx context.Context, userID string, names ...string) (workbooks, datasources, flows Owned, err error) {
	if err = CheckLUID(userID); err != nil {
		return
	}
	wb := url.Values{"ownedBy": {"true"}, "pageSize": {strconv.Itoa(maxOwnedNames)}, "pageNumber": {"1"}}
	if workbooks, err = s.owned(ctx, s.sitePath("users", userID, "workbooks"), wb, "workbooks", "workbook"); err != nil {
		return
	}
	if datasources, err = s.ownedBy(ctx, names, "datasources", "datasource"); err != nil {
		return
	}
	flows, err = s.ownedBy(ctx, names, "flows", "flow")
	return
}

func (s *Session) ownedBy(ctx context.Context, names []string, plural, singular string) (Owned, error) {
	var o Owned
	for _, name := range names {
		if name == "" || !FilterValueOK(name) { // a comma cannot be filtered on
			continue
		}
		q := url.Values{"pageSize": {strconv.Itoa(maxOwnedNames)}, "pageNumber": {"1"}, "filter": {"ownerName:eq:" + name}}
		var err error
		if o, err = s.owned(ctx, s.sitePath(plural), q, plural, singular); err != nil || o.Count > 0 {
			return o, err
		}
	}
	return o, nil
}

// owned reads the first page of a content listing: {"pagination":…,"<plural>":{"<singular>":[…]}}.
func (s *Session) owned(ctx context.Context, path string, q url.Values, plural, singular string) (Owned, error) {
	var raw map[string]json.RawMessage
	if err := s.get(ctx, path, q, &raw); err != nil {
		return Owned{}, err
	}
	var pagination Pagination
	var items map[string]oneOrMany[namedItem]
	if err := unmarshalPresent(raw["pagination"], &pagination); err != nil {
		return Owned{}, fmt.Errorf("reading %s: %w", plural, err)
	}
	if err := unmarshalPresent(raw[plural], &items); err != nil {
		return Owned{}, fmt.Errorf("reading %s: %w", plural, err)
	}
	list := items[singular]
	o := Owned{Count: max(int(pagination.TotalAvailable), len(list))}
	for _, it := range list[:min(len(list), maxOwnedNames)] {
		o.Names = append(o.Names, it.Name)
	}
	return o, nil
}

// unmarshalPresent decodes b into v, if b is there at all.
func unmarshalPresent(b json.RawMessage, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

type namedItem struct {
	Name string `json:"name"`
}
