package tableau

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"tabflow/internal/clip"
)

// ServerInfo is what GET /serverinfo says about the server.
type ServerInfo struct {
	ProductVersion string `json:"productVersion"`
	Build          string `json:"build,omitempty"`
	RESTAPIVersion string `json:"restApiVersion"`
}

// ServerInfo needs no session.
func (c *Client) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	resp, err := c.send(ctx, http.MethodGet, c.versioned(c.baseURL(), "serverinfo"), nil, Secret{})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, newAPIError(resp.Response, resp.body, c.now(), c.cfg.secrets()...)
	}
	var out struct {
		ServerInfo struct {
			ProductVersion struct {
				Value string `json:"value"`
				Build string `json:"build"`
			} `json:"productVersion"`
			RESTAPIVersion string `json:"restApiVersion"`
		} `json:"serverInfo"`
	}
	if err := decodeInto(resp, &out); err != nil {
		return nil, err
	}
	si := out.ServerInfo
	return &ServerInfo{ProductVersion: si.ProductVersion.Value, Build: si.ProductVersion.Build, RESTAPIVersion: si.RESTAPIVersion}, nil
}

// CurrentSession is the site and user behind the session.
type CurrentSession struct {
	Site struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		ContentURL string `json:"contentUrl"`
	} `json:"site"`
	User struct {
		ID       string   `json:"id"`
		Name     string   `json:"name"`
		SiteRole SiteRole `json:"siteRole"`
	} `json:"user"`
}

// CurrentSession calls GET /sessions/current.
func (s *Session) CurrentSession(ctx context.Context) (*CurrentSession, error) {
	var out struct {
		Session CurrentSession `json:"session"`
	}
	if err := s.get(ctx, "sessions/current", nil, &out); err != nil {
		return nil, err
	}
	return &out.Session, nil
}

// ListCollections calls the versionless GET /api/-/collections (API 3.28 and
// later; older servers answer 404). Its shape is not documented firmly, so
// the JSON is returned as Tableau sent it.
func (s *Session) ListCollections(ctx context.Context, query url.Values) (json.RawMessage, error) {
	var out json.RawMessage
	err := s.get(ctx, "-/collections", query, &out)
	return out, err
}

// SearchOptions is a content search.
type SearchOptions struct {
	Terms  string
	Page   int    // 0-based
	Limit  int    // 0 = Tableau's default
	Filter string // e.g. type:eq:workbook
}

// SearchResult is one page of search hits.
type SearchResult struct {
	Total     FlexInt      `json:"total"`
	PageIndex FlexInt      `json:"pageIndex"`
	Limit     FlexInt      `json:"limit"`
	Next      string       `json:"next,omitempty"`
	Items     []SearchItem `json:"items"`
}

// SearchItem is a hit; Content keeps every field Tableau sent.
type SearchItem struct {
	URI     string         `json:"uri"`
	Content map[string]any `json:"content"`
}

// SearchContent calls GET /api/-/search.
func (s *Session) SearchContent(ctx context.Context, opts SearchOptions) (*SearchResult, error) {
	q := url.Values{"terms": {opts.Terms}, "page": {strconv.Itoa(opts.Page)}}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Filter != "" {
		q.Set("filter", opts.Filter)
	}
	var out struct {
		Hits SearchResult `json:"hits"`
	}
	if err := s.get(ctx, "-/search", q, &out); err != nil {
		return nil, err
	}
	return &out.Hits, nil
}

// ContentRef names one piece of content for usage stats.
type ContentRef struct {
	LUID string `json:"luid"`
	Type string `json:"type"`
}

// ContentTypes are the content types Tableau's usage stats and search know.
var ContentTypes = []string{"workbook", "view", "datasource", "flow", "metric", "lens", "virtualconnection", "table", "database"}

// luidPattern is a Tableau LUID: a UUID.
var luidPattern = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// CheckLUID reports whether id is a LUID, as every ID that goes into a path
// must be: anything else (.., a slash, a name) is refused before a request.
func CheckLUID(id string) error {
	if !luidPattern.MatchString(id) {
		return fmt.Errorf("%q is not a Tableau LUID (e.g. 9f9e9d9c-1a2b-4c3d-8e4f-5a6b7c8d9e0f)", clip.Text(id, 40))
	}
	return nil
}

// Check reports what is wrong with a content reference, if anything.
func (r ContentRef) Check() error {
	if !slices.Contains(ContentTypes, r.Type) {
		return fmt.Errorf("type %q is not a Tableau content type (one of %s)", clip.Text(r.Type, 40), strings.Join(ContentTypes, ", "))
	}
	if err := CheckLUID(r.LUID); err != nil {
		return fmt.Errorf("luid %w", err)
	}
	return nil
}

// UsageStats calls GET /api/-/content/usage-stats/{type}/{luid}.
func (s *Session) UsageStats(ctx context.Context, ref ContentRef) (json.RawMessage, error) {
	if err := ref.Check(); err != nil {
		return nil, &InputError{Err: err}
	}
	var out json.RawMessage
	err := s.get(ctx, "-/content/usage-stats/"+url.PathEscape(ref.Type)+"/"+url.PathEscape(ref.LUID), nil, &out)
	return out, err
}

// UsageStatsBatch calls POST /api/-/content/usage-stats for several items.
func (s *Session) UsageStatsBatch(ctx context.Context, refs []ContentRef) (json.RawMessage, error) {
	var out json.RawMessage
	_, err := s.Do(ctx, http.MethodPost, "-/content/usage-stats", nil, map[string]any{"content_items": refs}, &out)
	return out, err
}
