package tableau_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/tableau"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
)

func TestSignInEachMethod(t *testing.T) {
	fake := testsuite.StartTableau(t)
	for name, cfg := range map[string]tableau.Config{"pat": fake.PATConfig(), "jwt": fake.JWTConfig(), "password": fake.PasswordConfig()} {
		t.Run(name, func(t *testing.T) {
			c := fake.Client(t, cfg)
			err := c.WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
				assert.Equal(t, fake.SiteID(faketableau.SandboxSite), s.SiteID)
				cur, err := s.CurrentSession(ctx)
				require.NoError(t, err)
				assert.Equal(t, "sandbox", cur.Site.ContentURL)
				assert.Equal(t, "admin@example.com", cur.User.Name)
				if name == "pat" {
					assert.InDelta(t, (180 * 24 * time.Hour).Hours(), s.PATExpiresIn.Hours(), 1)
				} else {
					assert.Zero(t, s.PATExpiresIn, "only PAT sign-ins report an expiry")
				}
				return nil
			})
			require.NoError(t, err)
		})
	}
	assert.Zero(t, fake.LiveSessions(), "every session signed out")
}

func TestSignInRequestBodies(t *testing.T) {
	fake := testsuite.StartTableau(t)
	var bodies []map[string]any
	fake.Inject(faketableau.Fault{PathContains: "/auth/signin", Status: 401, Body: `{"error":{"code":"401001","summary":"Signin Error","detail":"x"}}`})
	// Capture what the client sends through a recording transport.
	rec := &recordingTransport{base: fake.HTTPClient().Transport}
	for _, cfg := range []tableau.Config{fake.PATConfig(), fake.PasswordConfig(), fake.JWTConfig()} {
		_, _ = fake.Client(t, cfg, tableau.WithHTTPClient(&http.Client{Transport: rec})).SignIn(testsuite.Context(t))
	}
	for _, b := range rec.bodies {
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		bodies = append(bodies, m)
	}
	require.Len(t, bodies, 3)
	assert.Equal(t, map[string]any{"credentials": map[string]any{
		"personalAccessTokenName": "tabflow-admin", "personalAccessTokenSecret": faketableau.SandboxAdminSecret,
		"site": map[string]any{"contentUrl": "sandbox"}}}, bodies[0])
	assert.Equal(t, map[string]any{"credentials": map[string]any{
		"name": "admin@example.com", "password": faketableau.SandboxAdminPassword,
		"site": map[string]any{"contentUrl": "sandbox"}}}, bodies[1])
	cred := bodies[2]["credentials"].(map[string]any)
	assert.NotEmpty(t, cred["jwt"])
	assert.Equal(t, "application/json", rec.headers[0].Get("Content-Type"))
	assert.Equal(t, "application/json", rec.headers[0].Get("Accept"))
}

type recordingTransport struct {
	base    http.RoundTripper
	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		var buf bytes.Buffer
		buf.ReadFrom(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, buf.Bytes())
		r.headers = append(r.headers, req.Header.Clone())
		r.mu.Unlock()
		req.Body = ioNopCloser{bytes.NewReader(buf.Bytes())}
	}
	return r.base.RoundTrip(req)
}

type ioNopCloser struct{ *bytes.Reader }

func (ioNopCloser) Close() error { return nil }

func TestSignInFailureMessages(t *testing.T) {
	fake := testsuite.StartTableau(t)
	ctx := testsuite.Context(t)

	bad := fake.PATConfig()
	bad.PATSecret = tableau.NewSecret("wrong-secret-value-0000")
	_, err := fake.Client(t, bad).SignIn(ctx)
	assert.EqualError(t, err, "Tableau sign-in failed (HTTP 401, Signin Error): Error signing in to Tableau Server")
	assert.True(t, tableau.IsSignInRejected(err))

	t.Run("no token", func(t *testing.T) {
		remove := fake.Inject(faketableau.Fault{PathContains: "/auth/signin", Status: 200, Body: `{"credentials":{"site":{"id":"x","contentUrl":"sandbox"},"user":{"id":"y"}}}`})
		defer remove()
		_, err := fake.Client(t, fake.PATConfig()).SignIn(ctx)
		assert.EqualError(t, err, "Tableau sign-in succeeded but returned no session token")
		assert.ErrorIs(t, err, tableau.ErrNoSessionToken)
	})

	t.Run("not Tableau", func(t *testing.T) {
		page := "<html><body>Welcome to the corporate proxy" + strings.Repeat(" lorem ipsum", 200) + "</body></html>"
		remove := fake.Inject(faketableau.Fault{PathContains: "/auth/signin", Status: 200, Body: page, Header: http.Header{"Content-Type": {"text/html"}}})
		defer remove()
		_, err := fake.Client(t, fake.PATConfig()).SignIn(ctx)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "Tableau sign-in failed (HTTP 200): the answer is not Tableau's"), err.Error())
		assert.Contains(t, err.Error(), "Welcome to the corporate proxy")
		assert.Less(t, len(err.Error()), 500, "the raw body is truncated")
	})

	t.Run("unreachable", func(t *testing.T) {
		addr := testsuite.UnusedAddr(t)
		cfg := fake.PATConfig()
		cfg.ServerURL = addr
		_, err := fake.Client(t, cfg).SignIn(ctx)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "could not reach Tableau at "+addr+": "), err.Error())
		assert.True(t, tableau.IsUnreachable(err))
	})

	t.Run("API version too new", func(t *testing.T) {
		old := testsuite.StartTableau(t, faketableau.WithAPIVersion("3.19"))
		_, err := old.Client(t, old.PATConfig()).SignIn(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Tableau sign-in failed (HTTP 404, Resource Not Found): Version '3.24' is not a valid version of the API.")
		assert.Contains(t, err.Error(), "does not support REST API 3.24 (Tableau Server 2025.1 is the first release that does)")
		assert.Contains(t, err.Error(), "TABLEAU_API_VERSION")

		cfg := old.PATConfig()
		cfg.APIVersion = "3.19"
		require.NoError(t, old.Client(t, cfg).WithSession(ctx, 0, func(context.Context, *tableau.Session) error { return nil }))
	})

	t.Run("connected app sub-codes", func(t *testing.T) {
		cases := map[string]func(*tableau.Config){
			"(10085)": func(c *tableau.Config) { c.JWT.SecretID = "unknown-secret-id" },
			"(10084)": func(c *tableau.Config) { c.JWT.Secret = tableau.NewSecret("not-the-right-secret-value") },
			"(16)":    func(c *tableau.Config) { c.JWT.Username = "nobody@example.com" },
		}
		hints := map[string]string{"(10085)": "could not find the secret for this client ID", "(10084)": "could not parse the JWT", "(16)": "could not find the JWT's user (sub)"}
		for code, mutate := range cases {
			cfg := fake.JWTConfig()
			mutate(&cfg)
			_, err := fake.Client(t, cfg).SignIn(ctx)
			require.Error(t, err, code)
			assert.Contains(t, err.Error(), "Tableau sign-in failed (HTTP 401, Signin Error): Error signing in to Tableau Server "+code)
			assert.Contains(t, err.Error(), hints[code])
		}
	})
}

// A session Tableau already ended (401) is signed out; any other refusal,
// or no answer, is reported.
func TestSignOutTolerates401(t *testing.T) {
	for _, c := range []struct {
		fault   faketableau.Fault
		wantErr string
	}{
		{faketableau.Fault{Status: 401, Body: `{"error":{"code":"401002","summary":"Unauthorized Access","detail":"Invalid authentication credentials were provided."}}`}, ""},
		{faketableau.Fault{Status: 500, Body: "sign-out broke"}, "sign-out broke"},
		{faketableau.Fault{Reset: true}, "could not reach Tableau"},
	} {
		fake := testsuite.StartTableau(t)
		s, err := fake.Client(t, fake.PATConfig()).SignIn(testsuite.Context(t))
		require.NoError(t, err)
		c.fault.PathContains = "/auth/signout"
		fake.Inject(c.fault)
		err = s.SignOut(testsuite.Context(t))
		if c.wantErr == "" {
			assert.NoError(t, err)
		} else {
			assert.ErrorContains(t, err, c.wantErr)
		}
		assert.Equal(t, err, s.SignOut(testsuite.Context(t)), "signing out twice is harmless: the first answer stands")
	}
}

func TestReplacedSessionGets401002(t *testing.T) {
	fake := testsuite.StartTableau(t)
	s, err := fake.Client(t, fake.PATConfig()).SignIn(testsuite.Context(t))
	require.NoError(t, err)
	defer s.SignOut(testsuite.Context(t))

	// Another process signs in with the same PAT, ending our session.
	body := fmt.Sprintf(`{"credentials":{"personalAccessTokenName":%q,"personalAccessTokenSecret":%q,"site":{"contentUrl":"sandbox"}}}`, faketableau.SandboxAdminPAT, faketableau.SandboxAdminSecret)
	resp, err := fake.HTTPClient().Post(fake.URL+"/api/3.24/auth/signin", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	_, err = s.CurrentSession(testsuite.Context(t))
	require.Error(t, err)
	assert.True(t, tableau.IsSessionInvalidated(err))
	var apiErr *tableau.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "401002", apiErr.Code)
	assert.Equal(t, 1, fake.Collisions())
}

func TestPATSessionsNeverOverlap(t *testing.T) {
	fake := testsuite.StartTableau(t)
	fake.SetLatency(2 * time.Millisecond)
	c := fake.Client(t, fake.PATConfig())
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			errs <- c.WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
				_, err := s.FindUserByName(ctx, "ben@example.com")
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Zero(t, fake.Collisions(), "no sign-in ever replaced a live session")
	assert.Equal(t, n, fake.SignIns())
	assert.Equal(t, 1, fake.PeakConcurrency(), "one PAT, one request at a time")
	assert.Zero(t, fake.LiveSessions())
}

func TestPATLockIsPerProcessNotPerClient(t *testing.T) {
	fake := testsuite.StartTableau(t)
	a, b := fake.Client(t, fake.PATConfig()), fake.Client(t, fake.PATConfig())
	s1, err := a.SignIn(testsuite.Context(t))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(testsuite.Context(t), 100*time.Millisecond)
	defer cancel()
	_, err = b.SignIn(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a second client with the same PAT waits for the first session")
	require.NoError(t, s1.SignOut(testsuite.Context(t)))
	s2, err := b.SignIn(testsuite.Context(t))
	require.NoError(t, err)
	require.NoError(t, s2.SignOut(testsuite.Context(t)))
	assert.Zero(t, fake.Collisions())
}

func TestJWTAndPasswordSessionsRunInParallel(t *testing.T) {
	for name, cfgOf := range map[string]func(*testsuite.Tableau) tableau.Config{
		"jwt":      (*testsuite.Tableau).JWTConfig,
		"password": (*testsuite.Tableau).PasswordConfig,
	} {
		t.Run(name, func(t *testing.T) {
			fake := testsuite.StartTableau(t)
			fake.SetLatency(20 * time.Millisecond)
			c := fake.Client(t, cfgOf(fake))
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					assert.NoError(t, c.WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
						_, err := s.FindUserByName(ctx, "ben@example.com")
						return err
					}))
				})
			}
			wg.Wait()
			assert.Greater(t, fake.PeakConcurrency(), 1, "sessions overlapped")
		})
	}
}

// With a PAT, 401002 on a call means another sign-in replaced the session:
// retryable, and not a permission problem.
func TestPATSessionReplacedIsRetryable(t *testing.T) {
	fake := testsuite.StartTableau(t)
	fake.Inject(faketableau.Fault{PathContains: "/users", Times: 1, Status: 401,
		Body: `{"error":{"summary":"Unauthorized Access","detail":"Invalid authentication credentials were provided.","code":"401002"}}`})
	err := fake.Client(t, fake.PATConfig()).WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
		_, err := s.FindUserByName(ctx, "ben@example.com")
		return err
	})
	assert.True(t, tableau.IsSessionInvalidated(err), "%v", err)
	assert.False(t, tableau.IsPermissionDenied(err), "%v", err)
}

func TestSignInRedirect(t *testing.T) {
	fake := testsuite.StartTableau(t, faketableau.WithHostNames("10ax.online.tableau.com", "prod-uk-a.online.tableau.com"))
	_, port, _ := net.SplitHostPort(fake.Host)
	cfg := fake.PATConfig()
	cfg.ServerURL = "10ax.online.tableau.com:" + port
	client := func() *tableau.Client { return fake.Client(t, cfg, tableau.WithHTTPClient(fake.HTTPClient())) }
	redirectTo := func(loc string, times int) func() {
		return fake.Inject(faketableau.Fault{PathContains: "/auth/signin", Times: times, Status: 307, Header: http.Header{"Location": {loc}}})
	}

	t.Run("followed to a pod", func(t *testing.T) {
		fake.ResetCounters()
		redirectTo("https://prod-uk-a.online.tableau.com:"+port+"/api/3.24/auth/signin", 1)
		err := client().WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
			_, err := s.CurrentSession(ctx)
			return err
		})
		require.NoError(t, err)
		reqs := fake.Requests()
		require.Len(t, reqs, 4) // redirect, sign-in, call, sign-out
		assert.Equal(t, "10ax.online.tableau.com:"+port, reqs[0].Host)
		for _, r := range reqs[1:] {
			assert.Equal(t, "prod-uk-a.online.tableau.com:"+port, r.Host, r.Path)
		}
	})
	for loc, reason := range map[string]string{
		"http://prod-uk-a.online.tableau.com:" + port + "/api/3.24/auth/signin": "not HTTPS",
		"https://evil.example.com:" + port + "/api/3.24/auth/signin":            "a host outside online.tableau.com",
	} {
		remove := redirectTo(loc, 1)
		_, err := client().SignIn(testsuite.Context(t))
		remove()
		var re *tableau.RedirectError
		require.ErrorAs(t, err, &re, loc)
		assert.Contains(t, err.Error(), reason)
		assert.Contains(t, err.Error(), loc, "the error names the target")
	}
	t.Run("only one", func(t *testing.T) {
		remove := redirectTo("https://prod-uk-a.online.tableau.com:"+port+"/api/3.24/auth/signin", 0)
		defer remove()
		_, err := client().SignIn(testsuite.Context(t))
		assert.ErrorContains(t, err, "a second redirect (only one is followed)")
	})
}

// Waiting for the PAT's previous session does not count against a session's
// budget: the budget starts once the session may sign in.
func TestWaitingForThePATIsNotPartOfTheBudget(t *testing.T) {
	fake := testsuite.StartTableau(t)
	cfg := fake.PATConfig()
	ctx, cancel := context.WithTimeout(testsuite.Context(t), 30*time.Second)
	defer cancel()
	held := make(chan struct{})
	go fake.Client(t, cfg).WithSession(ctx, 0, func(context.Context, *tableau.Session) error {
		close(held)
		time.Sleep(600 * time.Millisecond) // a long listing holds the PAT
		return nil
	})
	<-held
	err := fake.Client(t, cfg).WithSession(ctx, 300*time.Millisecond, func(ctx context.Context, s *tableau.Session) error {
		_, err := s.CurrentSession(ctx)
		return err
	})
	require.NoError(t, err, "300 ms is plenty for the calls, whatever the wait")

	fake.Inject(faketableau.Fault{PathContains: "sessions/current", Latency: time.Second})
	err = fake.Client(t, cfg).WithSession(ctx, 300*time.Millisecond, func(ctx context.Context, s *tableau.Session) error {
		_, err := s.CurrentSession(ctx)
		return err
	})
	assert.True(t, tableau.IsUnreachable(err), "the budget bounds the calls: %v", err)
	assert.ErrorContains(t, err, "context deadline exceeded")
}

// A session whose work is cancelled still signs out, freeing the PAT.
func TestSignOutOnACancelledContext(t *testing.T) {
	fake := testsuite.StartTableau(t)
	ctx, cancel := context.WithCancel(testsuite.Context(t))
	err := fake.Client(t, fake.PATConfig()).WithSession(ctx, 0, func(ctx context.Context, s *tableau.Session) error {
		cancel()
		return ctx.Err()
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, fake.Count("signout"))
	assert.Zero(t, fake.LiveSessions())
}
