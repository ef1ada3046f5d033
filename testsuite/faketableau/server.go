// Package faketableau is a fake Tableau site over HTTPS for tests and demos.
// It follows Tableau's documented REST behaviour (SPEC §4), quirks included:
// JSON with string pagination numbers, "users":{} for an empty list, one live
// session per PAT, connected-app JWT checks, and Tableau's error codes. Test
// controls inject latency, error statuses, resets and outages, and counters
// record what clients did.
package faketableau

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Server is a running fake Tableau.
type Server struct {
	URL       string // https://127.0.0.1:port
	Host      string // 127.0.0.1:port, what goes in a Server URL setting
	CACertPEM []byte // the CA that signed the server certificate

	srv  *httptest.Server
	opts options

	mu         sync.Mutex
	sites      map[string]*site // by content URL ("" = Default)
	pats       map[string]*pat  // by name
	apps       map[string]*connectedApp
	uat        map[string]*uatIssuer // issuer + key ID
	uatJTIs    map[string]bool       // UAT jti values seen: each is good once
	sessions   map[string]*session   // by token
	livePAT    map[string]string     // PAT name → its live session token
	faults     []*activeFault
	latency    time.Duration
	rng        *mrand.Rand
	requests   []Request
	counts     map[string]int
	signIns    int
	collisions int
	inflight   int
	peak       int
	changes    []RoleChange
	rolesFile  string // see PersistRoles
}

// RoleChange is one site-role update the fake applied.
type RoleChange struct {
	User, From, To string
	At             time.Time
}

// RoleChanges lists every role update applied, in order.
func (s *Server) RoleChanges() []RoleChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RoleChange(nil), s.changes...)
}

// Request is one request the fake answered, for assertions.
type Request struct {
	Method   string
	Path     string
	Query    string // raw query string
	Host     string
	Endpoint string        // e.g. "users:list"; "" for an unknown path
	Status   int           // 0 when the connection was reset or refused
	At       time.Time     // when it arrived
	Took     time.Duration // until the answer (or reset)
	Token    string        // the X-Tableau-Auth it carried
}

type options struct {
	maxAPIVersion  string
	productVersion string
	collections    bool
	hosts          []string
	addr           string
	seed           uint64
}

// Option configures New.
type Option func(*options)

// WithAPIVersion sets the newest REST API version the fake knows (default
// 3.28); newer versions get 404001. Collections exist from 3.28 on.
func WithAPIVersion(v string) Option {
	return func(o *options) { o.maxAPIVersion = v; o.collections = compareVersions(v, "3.28") >= 0 }
}

// WithProductVersion sets what serverinfo reports (default 2025.3.0).
func WithProductVersion(v string) Option { return func(o *options) { o.productVersion = v } }

// WithHostNames adds names to the server certificate (for redirect tests
// that dial those names to this server).
func WithHostNames(h ...string) Option { return func(o *options) { o.hosts = append(o.hosts, h...) } }

// WithAddr listens on addr (e.g. 127.0.0.1:8443) instead of a free port.
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithSeed fixes the random source behind Fault.Rate.
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// New starts a fake Tableau with one empty Default site.
func New(opts ...Option) (*Server, error) {
	o := options{maxAPIVersion: "3.28", productVersion: "2025.3.0", collections: true, seed: 1}
	for _, f := range opts {
		f(&o)
	}
	cert, caPEM, err := newCertificates(o.hosts)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts: o, CACertPEM: caPEM,
		sites: map[string]*site{}, pats: map[string]*pat{}, apps: map[string]*connectedApp{}, uat: map[string]*uatIssuer{}, uatJTIs: map[string]bool{},
		sessions: map[string]*session{}, livePAT: map[string]string{}, counts: map[string]int{},
		rng: mrand.New(mrand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15)),
	}
	s.AddSite("", "Default")
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if o.addr != "" {
		l, err := net.Listen("tcp", o.addr)
		if err != nil {
			return nil, err
		}
		s.srv.Listener.Close()
		s.srv.Listener = l
	}
	s.srv.Listener = refusingListener{Listener: s.srv.Listener, s: s}
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.srv.StartTLS()
	s.URL = s.srv.URL
	s.Host = strings.TrimPrefix(s.URL, "https://")
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// WriteCACert writes the CA certificate to dir/fake-tableau-ca.pem and
// returns the path, for a client's CA file setting.
func (s *Server) WriteCACert(dir string) (string, error) {
	path := filepath.Join(dir, "fake-tableau-ca.pem")
	return path, os.WriteFile(path, s.CACertPEM, 0o644)
}

// HTTPClient trusts the fake's CA and sends every request to the fake,
// whatever host name it names (so redirects between "pods" can be tested).
func (s *Server) HTTPClient() *http.Client {
	tr := s.srv.Client().Transport.(*http.Transport).Clone()
	addr := s.srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CACertPEM)
	tr.TLSClientConfig.RootCAs = pool
	return &http.Client{Transport: tr}
}

// --- the fake's data -------------------------------------------------------

type site struct {
	id, contentURL, name string
	users                []*User
	content              []Content
	groups               []*Group
}

// User is a site user as the fake stores it.
type User struct {
	ID                 string
	Name               string
	FullName           string
	Email              string
	SiteRole           string
	AuthSetting        string
	LastLogin          string // empty = never signed in
	ExternalAuthUserID string
	IdpConfigurationID string
	password           string
}

// Content is a searchable item with usage stats.
type Content struct {
	LUID, Type, Title, OwnerName string
	Views                        int
}

type pat struct {
	name, secret, site, owner string
	expires                   time.Time
}

type connectedApp struct {
	clientID, secretID, secret, site string
}

type session struct {
	token, siteID, userID string
	patName               string
	scopes                []string // nil = not a JWT session (no scope checks)
	terminated            bool
}

func newLUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

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

// Requests returns every request answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests reached an endpoint ("signin", "signout",
// "serverinfo", "sessions:current", "users:list", "users:get",
// "users:update", "search", "usage-stats", "collections"), or all requests
// for "".
func (s *Server) Count(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if endpoint == "" {
		return len(s.requests)
	}
	return s.counts[endpoint]
}

// SignIns counts successful sign-ins.
func (s *Server) SignIns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signIns
}

// Collisions counts sign-ins with a PAT whose previous session was still
// live, each of which ended that session (its next call gets 401002).
func (s *Server) Collisions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.collisions
}

// PeakConcurrency is the most requests the fake was handling at once.
func (s *Server) PeakConcurrency() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// LiveSessions counts sessions not yet signed out or replaced.
func (s *Server) LiveSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, se := range s.sessions {
		if !se.terminated {
			n++
		}
	}
	return n
}

// ResetCounters forgets requests and counters (not data or faults).
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.counts = nil, map[string]int{}
	s.signIns, s.collisions, s.peak = 0, 0, 0
}

func randomToken() string {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	return fmt.Sprintf("%032x", n)
}
