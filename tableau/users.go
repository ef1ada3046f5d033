package tableau

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"tabflow/internal/clip"
)

// User is a site user as the REST API describes it.
type User struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	FullName           string   `json:"fullName,omitempty"`
	Email              string   `json:"email,omitempty"`
	SiteRole           SiteRole `json:"siteRole"`
	AuthSetting        string   `json:"authSetting,omitempty"`
	LastLogin          string   `json:"lastLogin,omitempty"` // absent for a user who never signed in
	ExternalAuthUserID string   `json:"externalAuthUserId,omitempty"`
	IdpConfigurationID string   `json:"idpConfigurationId,omitempty"`
}

// MaxPageSize is the largest page Tableau serves; more is 403014.
const MaxPageSize = 1000

// UsersPage is one page of Get Users on Site.
type UsersPage struct {
	Pagination Pagination
	Users      []User
}

// ListUsersOptions selects a page of users. Zero values mean Tableau's
// defaults (page 1, 100 users).
type ListUsersOptions struct {
	Filter     string `json:"filter,omitempty"` // e.g. name:eq:ana@example.com
	PageSize   int    `json:"pageSize,omitempty"`
	PageNumber int    `json:"pageNumber,omitempty"`
}

type usersResponse struct {
	Pagination Pagination `json:"pagination"`
	Users      userList   `json:"users"`
}

// userList accepts every shape of "users" Tableau's own clients accept:
// {"user":[…]}, {"user":{…}} for a single user, {} for none, and a bare [...].
type userList []User

func (l *userList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var many []User
		err := json.Unmarshal(b, &many)
		*l = many
		return err
	}
	var wrapped struct {
		User oneOrMany[User] `json:"user"`
	}
	err := json.Unmarshal(b, &wrapped)
	*l = userList(wrapped.User)
	return err
}

// ListUsersPage fetches one page of site users.
func (s *Session) ListUsersPage(ctx context.Context, opts ListUsersOptions) (*UsersPage, error) {
	q := url.Values{}
	if opts.Filter != "" {
		q.Set("filter", opts.Filter)
	}
	if opts.PageSize > 0 {
		q.Set("pageSize", strconv.Itoa(opts.PageSize))
	}
	if opts.PageNumber > 0 {
		q.Set("pageNumber", strconv.Itoa(opts.PageNumber))
	}
	var out usersResponse
	if err := s.get(ctx, s.sitePath("users"), q, &out); err != nil {
		return nil, err
	}
	return &UsersPage{Pagination: out.Pagination, Users: out.Users}, nil
}

// FilterValueOK reports whether v can be a value in Tableau's filter syntax
// (field:operator:value, expressions joined by commas): a comma would start
// another expression, and Tableau has no escape for it.
func FilterValueOK(v string) bool { return !strings.Contains(v, ",") }

// FindUserByName looks a user up by name (on Tableau Cloud, the e-mail
// address). No match is a *UserNotFoundError.
func (s *Session) FindUserByName(ctx context.Context, name string) (*User, error) {
	if !FilterValueOK(name) {
		return nil, &InputError{Err: fmt.Errorf("user name %q contains a comma, which Tableau's filter syntax cannot express", clip.Text(name, 80))}
	}
	p, err := s.ListUsersPage(ctx, ListUsersOptions{Filter: "name:eq:" + name, PageSize: MaxPageSize})
	if err != nil {
		return nil, err
	}
	for i := range p.Users {
		if strings.EqualFold(p.Users[i].Name, name) {
			return &p.Users[i], nil
		}
	}
	return nil, &UserNotFoundError{Name: name}
}

// GetUser fetches one user by ID; an unknown ID is a 404 (404002).
func (s *Session) GetUser(ctx context.Context, id string) (*User, error) {
	if err := CheckLUID(id); err != nil {
		return nil, &InputError{Err: fmt.Errorf("user ID %w", err)}
	}
	var out struct {
		User *User `json:"user"`
	}
	if err := s.get(ctx, s.sitePath("users", id), nil, &out); err != nil {
		// Only 404002 is "no such user" (SPEC §2): 404000 (site not found),
		// 404008 (endpoint unknown to this API version) and a proxy's page
		// (no code) are errors, never "the user is not there".
		if e, ok := asAPIError(err); ok && e.StatusCode == http.StatusNotFound && e.Code == CodeUserNotFound {
			return nil, &UserNotFoundError{Err: e}
		}
		return nil, err
	}
	if out.User == nil {
		return nil, fmt.Errorf("Tableau returned no user for ID %s", id)
	}
	return out.User, nil
}

// UpdateSiteRole sets a user's site role and returns the user as Tableau
// reports it afterwards (the update response carries no ID).
func (s *Session) UpdateSiteRole(ctx context.Context, id string, role SiteRole) (*User, error) {
	if err := CheckLUID(id); err != nil {
		return nil, &InputError{Err: fmt.Errorf("user ID %w", err)}
	}
	var out struct {
		User *User `json:"user"`
	}
	in := map[string]any{"user": map[string]any{"siteRole": role}}
	if _, err := s.Do(ctx, http.MethodPut, s.sitePath("users", id), nil, in, &out); err != nil {
		return nil, err
	}
	if out.User == nil {
		return &User{ID: id, SiteRole: role}, nil
	}
	if out.User.ID == "" {
		out.User.ID = id
	}
	return out.User, nil
}
