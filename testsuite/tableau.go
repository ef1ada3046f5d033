// Package testsuite holds what tabflow's tests share: a running fake Tableau
// with ready-made connection configs.
package testsuite

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tabflow/tableau"
	"tabflow/testsuite/faketableau"
)

// Tableau is a fake Tableau seeded with the sandbox site, closed with the test.
type Tableau struct {
	*faketableau.Server
	CAFile string
}

// StartTableau starts a seeded fake Tableau for one test.
func StartTableau(t testing.TB, opts ...faketableau.Option) *Tableau {
	t.Helper()
	s, err := faketableau.New(opts...)
	if err != nil {
		t.Fatalf("starting fake Tableau: %v", err)
	}
	t.Cleanup(s.Close)
	faketableau.SeedSandbox(s)
	ca, err := s.WriteCACert(t.TempDir())
	if err != nil {
		t.Fatalf("writing CA: %v", err)
	}
	return &Tableau{Server: s, CAFile: ca}
}

// PATConfig signs in with the site administrator's PAT.
func (f *Tableau) PATConfig() tableau.Config {
	return tableau.Config{ServerURL: f.Host, Site: faketableau.SandboxSite, CAFile: f.CAFile, Auth: tableau.AuthPAT,
		PATName: faketableau.SandboxAdminPAT, PATSecret: tableau.NewSecret(faketableau.SandboxAdminSecret)}
}

// ViewerPATConfig signs in with a non-administrator's PAT.
func (f *Tableau) ViewerPATConfig() tableau.Config {
	c := f.PATConfig()
	c.PATName, c.PATSecret = faketableau.SandboxViewerPAT, tableau.NewSecret(faketableau.SandboxViewerSecret)
	return c
}

// JWTConfig signs in through the sandbox connected app as the administrator.
func (f *Tableau) JWTConfig() tableau.Config {
	return tableau.Config{ServerURL: f.Host, Site: faketableau.SandboxSite, CAFile: f.CAFile, Auth: tableau.AuthJWT,
		JWT: tableau.JWTConfig{ClientID: faketableau.SandboxJWTClientID, SecretID: faketableau.SandboxJWTSecretID,
			Secret: tableau.NewSecret(faketableau.SandboxJWTSecret), Username: faketableau.SandboxJWTUsername}}
}

// UATConfig signs in with a Unified Access Token as the administrator: it
// makes an RSA key, registers its public half with the fake under an issuer
// and tenant, and writes the private half (PKCS#8 PEM) to a file of the test.
func (f *Tableau) UATConfig(t testing.TB) tableau.Config {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "uat-key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	u := tableau.UATConfig{PrivateKeyFile: path, KeyID: "key-1", Issuer: "https://idp.example.com", TenantID: "tenant-1", Username: faketableau.SandboxJWTUsername}
	f.AddUATIssuer(faketableau.SandboxSite, faketableau.UATIssuer{Issuer: u.Issuer, TenantID: u.TenantID, KeyID: u.KeyID, PublicKey: &key.PublicKey})
	return tableau.Config{ServerURL: f.Host, Site: faketableau.SandboxSite, CAFile: f.CAFile, Auth: tableau.AuthUAT, UAT: u}
}

// PasswordConfig signs in with the administrator's username and password.
func (f *Tableau) PasswordConfig() tableau.Config {
	return tableau.Config{ServerURL: f.Host, Site: faketableau.SandboxSite, CAFile: f.CAFile, Auth: tableau.AuthPassword,
		Username: faketableau.SandboxJWTUsername, Password: tableau.NewSecret(faketableau.SandboxAdminPassword)}
}

// Client builds a client for cfg, failing the test on a config error.
func (f *Tableau) Client(t testing.TB, cfg tableau.Config, opts ...tableau.Option) *tableau.Client {
	t.Helper()
	c, err := tableau.NewClient(cfg, opts...)
	if err != nil {
		t.Fatalf("tableau.NewClient: %v", err)
	}
	return c
}

// UnusedAddr returns a loopback host:port where nothing listens.
func UnusedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Context is the test's context with a deadline (5 minutes), so a call that hangs fails
// the test with a message instead of running into the package timeout.
func Context(t testing.TB) context.Context { return ContextWithin(t, 5*time.Minute) }

// ContextWithin ends with the test, or after d.
func ContextWithin(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// Second sandbox PAT of the administrator, for PAT pools.
const (
	SecondPAT       = "tabflow-admin-2"
	SecondPATSecret = "sandbox-admin-2-secret-0000"
)

// PoolConfig signs in with a pool of two administrator PATs (the second is
// added to the fake here).
func (f *Tableau) PoolConfig() tableau.Config {
	f.AddPAT(faketableau.SandboxSite, SecondPAT, SecondPATSecret, "admin@example.com", 0)
	c := f.PATConfig()
	c.PATPool = []tableau.PAT{{Name: SecondPAT, Secret: tableau.NewSecret(SecondPATSecret)}}
	return c
}

// CutOffCalls counts calls (not sign-ins) Tableau answered 401: a session
// ended under a call, as a second sign-in with the same PAT does.
func (f *Tableau) CutOffCalls() int {
	n := 0
	for _, r := range f.Requests() {
		if r.Status == 401 && !strings.Contains(r.Path, "/auth/") {
			n++
		}
	}
	return n
}
