package tableau

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"tabflow/internal/clip"
)

// Do makes any REST call within the session. path is relative to
// /api/{version}/ ("sites/{site-id}/users"), or to the versionless /api/-/
// when it starts with "-/" ("-/search"). {site-id} and {user-id} are filled
// from the session. in (if not nil) is sent as JSON; a successful JSON answer
// is decoded into out (if not nil; *json.RawMessage keeps it as is).
// A non-2xx answer is an *APIError.
func (s *Session) Do(ctx context.Context, method, path string, query url.Values, in, out any) (*Response, error) {
	u, err := s.resolve(path)
	if err != nil {
		return nil, err
	}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var body []byte
	switch v := in.(type) {
	case nil:
	case json.RawMessage:
		body = v
	default:
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("encoding the request body: %w", err)
		}
	}
	c := s.client
	resp, err := c.send(ctx, method, u, body, s.token)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		e := newAPIError(resp.Response, resp.body, c.now(), append(c.cfg.secrets(), s.token)...)
		if e.Code == CodeInvalidToken && c.cfg.authMethod() != AuthPAT {
			// Only a PAT's session can be replaced by another sign-in; for a
			// connected app or a password, 401002 is a missing scope.
			e.MissingScope = requiredScope(method, u.Path)
		}
		return nil, e
	}
	if err := decodeInto(resp, out, append(c.cfg.secrets(), s.token)...); err != nil {
		return nil, err
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header}, nil
}

// CheckPath validates a path as Do accepts it: relative, no scheme, no "..",
// and nothing under auth/: sessions are opened and closed by tabflow only, so
// no session token can reach a caller (or a workflow's history).
func CheckPath(path string) error {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	switch {
	case strings.TrimSpace(path) == "":
		return fmt.Errorf("is required (e.g. sites/{site-id}/users)")
	case strings.EqualFold(first, "auth"):
		return fmt.Errorf("%q is refused: tabflow signs in and out itself, and a session token must never reach a workflow result", clip.Text(path, 80))
	case strings.Contains(path, "://") || strings.HasPrefix(path, "//"):
		return fmt.Errorf("%q must be relative to /api/{version}/, not a full URL", clip.Text(path, 80))
	case strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "api/"):
		return fmt.Errorf("%q must be relative to /api/{version}/: drop the /api/… prefix", clip.Text(path, 80))
	case strings.ContainsAny(path, "?#"):
		return fmt.Errorf("%q must not carry a query: pass query parameters separately", clip.Text(path, 80))
	case strings.ContainsAny(path, "\\\x00\r\n"):
		return fmt.Errorf("%q holds characters that do not belong in a path", clip.Text(path, 80))
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == ".." || seg == "." {
			return fmt.Errorf("%q must not contain . or .. segments", clip.Text(path, 80))
		}
		if u, err := url.PathUnescape(seg); err != nil || u == ".." || strings.Contains(u, "/") {
			return fmt.Errorf("%q holds an escaped segment that is not allowed", clip.Text(path, 80))
		}
	}
	return nil
}

func (s *Session) resolve(path string) (*url.URL, error) {
	if err := CheckPath(path); err != nil {
		return nil, fmt.Errorf("path %w", err)
	}
	p := strings.TrimPrefix(path, "/")
	p = strings.NewReplacer("{site-id}", s.SiteID, "{user-id}", s.UserID).Replace(p)
	if rest, ok := strings.CutPrefix(p, "-/"); ok {
		return s.base.JoinPath("api", "-", rest), nil
	}
	return s.client.versioned(s.base, p), nil
}

// sitePath is a versioned path under the session's site.
func (s *Session) sitePath(elem ...string) string {
	parts := append([]string{"sites", s.SiteID}, elem...)
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// get is Do for a GET with no body.
func (s *Session) get(ctx context.Context, path string, query url.Values, out any) error {
	_, err := s.Do(ctx, http.MethodGet, path, query, nil, out)
	return err
}
