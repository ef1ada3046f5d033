package faketableau_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/testsuite/faketableau"
)

func start(t *testing.T, opts ...faketableau.Option) *faketableau.Server {
	s, err := faketableau.New(opts...)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	faketableau.SeedSandbox(s)
	return s
}

func post(t *testing.T, s *faketableau.Server, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := s.HTTPClient().Post(s.URL+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func jwtSignIn(t *testing.T, s *faketableau.Server, claims jwt.MapClaims) (int, map[string]any) {
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"], tok.Header["iss"] = faketableau.SandboxJWTSecretID, faketableau.SandboxJWTClientID
	signed, err := tok.SignedString([]byte(faketableau.SandboxJWTSecret))
	require.NoError(t, err)
	return post(t, s, "/api/3.24/auth/signin", `{"credentials":{"jwt":"`+signed+`","site":{"contentUrl":"sandbox"}}}`)
}

func detail(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	return e["detail"].(string)
}

func TestFakeVerifiesJWTLikeTableau(t *testing.T) {
	s := start(t)
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": faketableau.SandboxJWTClientID, "sub": "admin@example.com", "aud": "tableau",
			"exp": time.Now().Add(5 * time.Minute).Unix(), "jti": "j1", "scp": []string{"tableau:content:read"}}
	}
	status, _ := jwtSignIn(t, s, good())
	assert.Equal(t, 200, status)

	c := good()
	c["exp"] = time.Now().Add(11 * time.Minute).Unix()
	status, out := jwtSignIn(t, s, c)
	assert.Equal(t, 401, status)
	assert.Equal(t, "Error signing in to Tableau Server (16)", detail(out), "exp more than 10 minutes ahead")

	c = good()
	c["aud"] = "someone-else"
	_, out = jwtSignIn(t, s, c)
	assert.Equal(t, "Error signing in to Tableau Server (10084)", detail(out))

	c = good()
	delete(c, "exp")
	_, out = jwtSignIn(t, s, c)
	assert.Equal(t, "Error signing in to Tableau Server (10084)", detail(out))
}

func TestFakeRejectsXMLAndUnknownVersions(t *testing.T) {
	s := start(t, faketableau.WithAPIVersion("3.25"))
	resp, err := s.HTTPClient().Post(s.URL+"/api/3.24/auth/signin", "application/xml", strings.NewReader("<tsRequest/>"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 415, resp.StatusCode)

	status, out := post(t, s, "/api/3.26/auth/signin", `{}`)
	assert.Equal(t, 404, status)
	assert.Equal(t, "404001", out["error"].(map[string]any)["code"])
	assert.Equal(t, "Version '3.26' is not a valid version of the API.", detail(out))
}

func TestFakeFaultsAndOutage(t *testing.T) {
	s := start(t, faketableau.WithSeed(7))
	client := s.HTTPClient()
	get := func() (int, error) {
		resp, err := client.Get(s.URL + "/api/3.24/serverinfo")
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	s.Inject(faketableau.Fault{PathContains: "serverinfo", Times: 2, Status: 500})
	for _, want := range []int{500, 500, 200} {
		got, err := get()
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}

	remove := s.Inject(faketableau.Fault{PathContains: "serverinfo", Rate: 0.2, Status: 503})
	fails := 0
	for range 500 {
		if got, _ := get(); got == 503 {
			fails++
		}
	}
	remove()
	assert.InDelta(t, 100, fails, 35, "about 20%% of calls fail")

	remove = s.Inject(faketableau.Fault{Refuse: true})
	client.CloseIdleConnections()
	_, err := get()
	assert.Error(t, err, "nothing answers while down")
	remove()
	got, err := get()
	require.NoError(t, err)
	assert.Equal(t, 200, got, "back up")
}

func TestPrintSandboxTellsEverySetting(t *testing.T) {
	s := start(t)
	var b bytes.Buffer
	faketableau.PrintSandbox(&b, s, "/tmp/ca.pem")
	for _, want := range []string{"TABLEAU_SERVER_URL=" + s.Host, "TABLEAU_SITE=sandbox", "TABLEAU_CA_FILE=/tmp/ca.pem", faketableau.SandboxAdminPAT, "not a real Tableau"} {
		assert.Contains(t, b.String(), want)
	}
}

// The sandbox's users are listed with the roles they have now: after a
// restart, those the workflows set, not the seeded ones.
func TestSandboxUsersShowTheirCurrentRoles(t *testing.T) {
	s := start(t)
	s.SetRole(faketableau.SandboxSite, "ana@example.com", "Explorer")
	users := faketableau.SandboxUsers(s)
	assert.Contains(t, users, "ana@ (Explorer)")
	assert.Contains(t, users, "ben@ (Viewer)")
	assert.Equal(t, 7, strings.Count(users, "@ ("), "every sandbox user: %s", users)
}
