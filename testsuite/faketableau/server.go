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

// Requests returns every request answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests reached an endpoint ("signin", "signout",
// "serverinfo", "sessions:current", "users:list", "users:get",
// "users:update", "users:groups", "search", "usage-stats", "collections"), or all requests
// for "".
func (s *Server) Count(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if endpoint == "" {
		return len(s.requests)
	}
	return s.counts[endpoint]
}

// locked reads the fake's state under its lock.
func locked[T any](s *Server, read func() T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return read()
}

// SignIns counts successful sign-ins.
func (s *Server) SignIns() int { return locked(s, func() int { return s.signIns }) }

// Collisions counts sign-ins with a PAT whose previous session was still
// live, each of which ended that session (its next call gets 401002).
func (s *Server) Collisions() int { return locked(s, func() int { return s.collisions }) }

// PeakConcurrency is the most requests the fake was handling at once.
func (s *Server) PeakConcurrency() int { return locked(s, func() int { return s.peak }) }

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
