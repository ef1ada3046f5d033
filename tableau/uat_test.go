package tableau_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/tableau"
	"tabflow/testsuite"
)

// A Unified Access Token signs in at REST API 3.27 with isUat, a fresh jti
// every time, and its sessions run in parallel like a connected app's.
func TestUATSignsInAndRunsSessionsInParallel(t *testing.T) {
	fake := testsuite.StartTableau(t)
	cfg := fake.UATConfig(t)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "3.27", cfg.EffectiveAPIVersion())
	fake.SetLatency(50 * time.Millisecond)
	c := fake.Client(t, cfg)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			assert.NoError(t, c.WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
				_, err := s.FindUserByName(ctx, "ben@example.com")
				return err
			}))
		})
	}
	wg.Wait()
	assert.Equal(t, 6, fake.SignIns(), "every sign-in a new token (a jti is good once)")
	assert.Greater(t, fake.PeakConcurrency(), 1, "sessions overlap")
	for _, r := range fake.Requests() {
		if strings.Contains(r.Path, "signin") {
			assert.Contains(t, r.Path, "/api/3.27/")
		}
	}
}

// The fake refuses what Tableau refuses: another tenant, an unknown key, an
// older API version.
func TestUATRefusals(t *testing.T) {
	fake := testsuite.StartTableau(t)
	good := fake.UATConfig(t)
	for name, edit := range map[string]func(*tableau.Config){
		"another tenant":  func(c *tableau.Config) { c.UAT.TenantID = "tenant-2" },
		"an unknown key":  func(c *tableau.Config) { c.UAT.KeyID = "key-9" },
		"another issuer":  func(c *tableau.Config) { c.UAT.Issuer = "https://evil.example.com" },
		"an unknown user": func(c *tableau.Config) { c.UAT.Username = "ghost@example.com" },
		"API 3.26":        func(c *tableau.Config) { c.APIVersion = "3.26" },
		"a key it does not know": func(c *tableau.Config) {
			c.UAT.PrivateKeyFile = testsuite.StartTableau(t).UATConfig(t).UAT.PrivateKeyFile
		},
		"the username claim": func(c *tableau.Config) { c.UAT.UsernameClaim = "sub" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			edit(&cfg)
			_, err := fake.Client(t, cfg).SignIn(testsuite.Context(t))
			require.Error(t, err)
		})
	}
}

func TestUATConfigValidation(t *testing.T) {
	cfg := tableau.Config{ServerURL: "10ax.online.tableau.com", Site: "acme", Auth: tableau.AuthUAT}
	err := cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{"UAT private key is required (TABLEAU_UAT_PRIVATE_KEY_FILE: a PEM file)", "UAT key ID is required", "UAT issuer is required", "UAT tenant ID is required", "UAT username is required"} {
		assert.Contains(t, err.Error(), want)
	}
	cfg.UAT.PrivateKey = tableau.NewSecret("-----BEGIN PRIVATE KEY-----\nnot-a-key-SECRETTAIL\n-----END PRIVATE KEY-----")
	err = cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "UAT private key is not an RSA private key in PEM form (PKCS#8 or PKCS#1)")
	assert.NotContains(t, err.Error(), "SECRETTAIL", "the key is never quoted")
}
