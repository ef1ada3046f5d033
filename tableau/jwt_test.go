package tableau_test

import (
	"context"
	"encoding/json"
	"net/http"
	"tabflow/tableau"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Connected-app JWTs: their claims and their scopes.

func TestJWTClaims(t *testing.T) {
	fake := testsuite.StartTableau(t)
	rec := &recordingTransport{base: fake.HTTPClient().Transport}
	cfg := fake.JWTConfig()
	cfg.JWT.Scopes = []string{"tableau:users:*", "tableau:content:read"}
	c := fake.Client(t, cfg, tableau.WithHTTPClient(&http.Client{Transport: rec}))
	for range 2 {
		require.NoError(t, c.WithSession(testsuite.Context(t), 0, func(context.Context, *tableau.Session) error { return nil }))
	}
	var jtis []string
	for _, b := range rec.bodies {
		var m struct{ Credentials struct{ JWT string } }
		if json.Unmarshal(b, &m) != nil || m.Credentials.JWT == "" {
			continue
		}
		header, claims := decodeJWT(t, m.Credentials.JWT)
		assert.Equal(t, "HS256", header["alg"])
		assert.Equal(t, faketableau.SandboxJWTSecretID, header["kid"])
		assert.Equal(t, faketableau.SandboxJWTClientID, header["iss"])
		assert.Equal(t, faketableau.SandboxJWTClientID, claims["iss"])
		assert.Equal(t, faketableau.SandboxJWTUsername, claims["sub"])
		assert.Equal(t, "tableau", claims["aud"])
		assert.Equal(t, []any{"tableau:users:*", "tableau:content:read"}, claims["scp"])
		exp := time.Unix(int64(claims["exp"].(float64)), 0)
		assert.WithinDuration(t, time.Now().Add(5*time.Minute), exp, time.Minute)
		jtis = append(jtis, claims["jti"].(string))
	}
	require.Len(t, jtis, 2)
	assert.NotEqual(t, jtis[0], jtis[1], "a fresh jti per sign-in")
}

// With a connected app, 401002 on a call is a missing scope: no retry fixes
// it, and the error names the scope the call needs.
func TestJWTMissingScopeIsPermissionDeniedNamingTheScope(t *testing.T) {
	fake := testsuite.StartTableau(t)
	cfg := fake.JWTConfig()
	cfg.JWT.Scopes = []string{"tableau:content:read", "tableau:users:read", "tableau:users:update"}
	var lookupErr, updateErr error
	err := fake.Client(t, cfg).WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
		var u *tableau.User
		u, lookupErr = s.FindUserByName(ctx, "ben@example.com")
		if lookupErr != nil {
			return lookupErr
		}
		_, updateErr = s.UpdateSiteRole(ctx, u.ID, tableau.RoleExplorer)
		return updateErr
	})
	require.NoError(t, lookupErr, "tableau:users:read lists users")
	require.Error(t, err)
	assert.False(t, tableau.IsSessionInvalidated(err), "not the PAT's retryable 401002: %v", err)
	assert.True(t, tableau.IsPermissionDenied(err), "%v", err)
	assert.Contains(t, err.Error(), "needs the scope tableau:users:* for it", "Update User has no individual scope")
	assert.Equal(t, "Viewer", fake.Role(faketableau.SandboxSite, "ben@example.com"))
}

func TestDefaultJWTScopesCoverARoleChange(t *testing.T) {
	fake := testsuite.StartTableau(t)
	cfg := fake.JWTConfig()
	require.Empty(t, cfg.JWT.Scopes, "the defaults are what is tested")
	err := fake.Client(t, cfg).WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
		u, err := s.FindUserByName(ctx, "ben@example.com")
		if err != nil {
			return err
		}
		_, err = s.UpdateSiteRole(ctx, u.ID, tableau.RoleExplorer)
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, "Explorer", fake.Role(faketableau.SandboxSite, "ben@example.com"))
}
