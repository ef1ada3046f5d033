package tableau_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/tableau"
	"tabflow/testsuite"
)

func TestNormalizeServerURL(t *testing.T) {
	for in, want := range map[string]string{
		"10ax.online.tableau.com":           "10ax.online.tableau.com",
		"https://10ax.online.tableau.com/":  "10ax.online.tableau.com",
		"http://tableau.acme.com//":         "tableau.acme.com",
		"  HTTPS://Tableau.Acme.com:8443/ ": "tableau.acme.com:8443",
	} {
		got, err := tableau.NormalizeServerURL(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}

func TestNormalizeServerURLRejectsPaths(t *testing.T) {
	_, err := tableau.NormalizeServerURL("")
	assert.EqualError(t, err, "Server URL is required")

	_, err = tableau.NormalizeServerURL("https://10ax.online.tableau.com/#/site/acme-analytics/explore")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Server URL must be the host only (e.g. 10ax.online.tableau.com)")
	assert.Contains(t, err.Error(), `put the site "acme-analytics" in Site Content URL`)

	_, err = tableau.NormalizeServerURL("tableau.acme.com/views")
	assert.ErrorContains(t, err, "the site goes in Site Content URL")

	_, err = tableau.NormalizeServerURL("not a host")
	assert.ErrorContains(t, err, "is not a host name")
}

func TestValidateMessages(t *testing.T) {
	c := tableau.Config{}
	err := c.Validate()
	require.Error(t, err)
	msgs := strings.Split(err.Error(), "\n")
	assert.Equal(t, []string{"Server URL is required", "Personal Access Token name is required", "Personal Access Token secret is required"}, msgs)

	c = tableau.Config{ServerURL: "https://10ax.online.tableau.com/", PATName: "n", PATSecret: tableau.NewSecret("s")}
	assert.ErrorContains(t, c.Validate(), "Site Content URL is required for Tableau Cloud, which has no Default site")

	c = tableau.Config{ServerURL: "tableau.acme.com", PATName: "n", PATSecret: tableau.NewSecret("s")}
	require.NoError(t, c.Validate(), "Tableau Server may use the Default site")
	assert.Equal(t, "tableau.acme.com", c.ServerURL)

	c = tableau.Config{ServerURL: "tableau.acme.com", Auth: tableau.AuthJWT}
	assert.Equal(t, "Connected app client ID is required\nConnected app secret ID is required\nConnected app username is required\nConnected app secret value is required", c.Validate().Error())

	c = tableau.Config{ServerURL: "tableau.acme.com", Auth: tableau.AuthPassword}
	assert.Equal(t, "Username is required\nPassword is required", c.Validate().Error())

	c = tableau.Config{ServerURL: "tableau.acme.com", Auth: "oauth"}
	assert.ErrorContains(t, c.Validate(), `auth method "oauth" is not one of pat, jwt, password`)

	c = tableau.Config{ServerURL: "tableau.acme.com", PATName: "n", PATSecret: tableau.NewSecret("s"), APIVersion: "latest"}
	assert.ErrorContains(t, c.Validate(), `API version "latest" must look like 3.24`)

	c = tableau.Config{ServerURL: "tableau.acme.com", PATName: "n", PATSecret: tableau.NewSecret("s"), Site: "#/site/acme"}
	assert.ErrorContains(t, c.Validate(), "must be the site's slug only")
}

// Bad settings stop the worker at start-up, naming the setting, never
// echoing a secret or a megabyte of input.
func TestValidateRefusesBadSettingsWithoutEchoingThem(t *testing.T) {
	c := tableau.Config{ServerURL: "https://admin:hunter2-secret@tableau.acme.com", PATName: "n", PATSecret: tableau.NewSecret("s")}
	err := c.Validate()
	require.ErrorContains(t, err, "Server URL must not carry a user name or password")
	assert.NotContains(t, err.Error(), "hunter2")

	c = tableau.Config{ServerURL: "tableau.acme.com:99999", PATName: "n", PATSecret: tableau.NewSecret("s")}
	assert.ErrorContains(t, c.Validate(), "Server URL port 99999 is not a port number")

	c = tableau.Config{ServerURL: "tableau.acme.com", PATName: "n", PATSecret: tableau.NewSecret("   ")}
	assert.EqualError(t, c.Validate(), "Personal Access Token secret is required", "a blank secret is no secret")

	c = tableau.Config{ServerURL: strings.Repeat("a", 1<<20) + "!", PATName: "n", PATSecret: tableau.NewSecret("s")}
	assert.Less(t, len(c.Validate().Error()), 300, "the value is named, not echoed in full")
}

func TestDisplayName(t *testing.T) {
	assert.Equal(t, "Tableau (acme-analytics)", tableau.Config{Site: "acme-analytics"}.DisplayName())
	assert.Equal(t, "Tableau (Default site)", tableau.Config{}.DisplayName())
}

func env(m map[string]string) tableau.LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConnectionFileEditSemantics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tabflow", "connection.json")
	stored := tableau.Config{}.Apply(tableau.ConnectionUpdate{
		ServerURL: "https://10ax.online.tableau.com/", Site: "acme-analytics",
		PATName: "tabflow", PATSecret: "first-secret-abcd1234",
	})
	require.NoError(t, stored.Validate())
	require.NoError(t, tableau.WriteConnectionFile(path, stored))

	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the file holds a secret")

	got, err := tableau.ReadConnectionFile(path)
	require.NoError(t, err)
	assert.Equal(t, "10ax.online.tableau.com", got.ServerURL)
	assert.Equal(t, "••••••••1234", got.PATSecret.Masked())

	// Blank server URL, PAT name and secret keep what is stored; the site is
	// always saved, so a blank one switches to the Default site.
	edited := got.Apply(tableau.ConnectionUpdate{Site: ""})
	assert.Equal(t, "10ax.online.tableau.com", edited.ServerURL)
	assert.Equal(t, "tabflow", edited.PATName)
	assert.Equal(t, "••••••••1234", edited.PATSecret.Masked())
	assert.Equal(t, "", edited.Site)
	assert.Equal(t, "Tableau (Default site)", edited.DisplayName())

	edited = got.Apply(tableau.ConnectionUpdate{Site: "finance", PATSecret: "second-secret-wxyz9876"})
	assert.Equal(t, "Tableau (finance)", edited.DisplayName())
	assert.Equal(t, "••••••••9876", edited.PATSecret.Masked())
}

func TestLoadConfigEnvOverridesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "connection.json")
	require.NoError(t, tableau.WriteConnectionFile(path, tableau.Config{ServerURL: "tableau.acme.com", Site: "acme", PATName: "file-pat", PATSecret: tableau.NewSecret("file-secret-0000")}))
	secretFile := filepath.Join(dir, "pat-secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("from-file-secret-5678\n"), 0o600))

	c, err := tableau.LoadConfig(path, env(map[string]string{
		"TABLEAU_SITE":            "",
		"TABLEAU_PAT_NAME":        "env-pat",
		"TABLEAU_PAT_SECRET_FILE": secretFile,
		"TABLEAU_API_VERSION":     "3.25",
	}))
	require.NoError(t, err)
	assert.Equal(t, "tableau.acme.com", c.ServerURL, "kept from the file")
	assert.Equal(t, "", c.Site, "an empty TABLEAU_SITE means the Default site")
	assert.Equal(t, "env-pat", c.PATName)
	assert.Equal(t, "••••••••5678", c.PATSecret.Masked(), "trailing newline of the _FILE trimmed")
	assert.Equal(t, "3.25", c.APIVersion)

	_, err = tableau.LoadConfig("", env(map[string]string{"TABLEAU_SERVER_URL": "x.com", "TABLEAU_PAT_NAME": "n", "TABLEAU_PAT_SECRET_FILE": filepath.Join(dir, "missing")}))
	assert.ErrorContains(t, err, "TABLEAU_PAT_SECRET_FILE: cannot read")

	c, err = tableau.LoadConfig("", env(map[string]string{
		"TABLEAU_SERVER_URL": "tableau.acme.com", "TABLEAU_JWT_CLIENT_ID": "cid", "TABLEAU_JWT_SECRET_ID": "sid",
		"TABLEAU_JWT_SECRET": "jwt-secret-value", "TABLEAU_JWT_USERNAME": "svc@acme.com", "TABLEAU_JWT_SCOPES": "tableau:users:*, tableau:content:read",
	}))
	require.NoError(t, err)
	assert.Equal(t, tableau.AuthJWT, c.Auth, "inferred from the JWT variables")
	assert.Equal(t, []string{"tableau:users:*", "tableau:content:read"}, c.JWT.Scopes)

	_, err = tableau.LoadConfig("", env(map[string]string{}))
	assert.ErrorContains(t, err, "Server URL is required")
}

func TestPATPoolFromTheEnvironmentAndTheFile(t *testing.T) {
	env := map[string]string{
		"TABLEAU_SERVER_URL": "tableau.acme.com", "TABLEAU_PAT_NAME": "one", "TABLEAU_PAT_SECRET": "secret-one-000",
		"TABLEAU_PAT_NAME_2": "two", "TABLEAU_PAT_SECRET_2": "secret-two-000", "TABLEAU_PAT_NAME_3": "three", "TABLEAU_PAT_SECRET_3": "secret-three-000",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := tableau.LoadConfig("", lookup)
	require.NoError(t, err)
	require.Len(t, cfg.PATs(), 3)
	assert.Equal(t, "three", cfg.PATs()[2].Name)
	data, _ := json.Marshal(cfg)
	assert.NotContains(t, string(data), "secret-two", "pool secrets print masked")

	path := filepath.Join(t.TempDir(), "connection.json")
	require.NoError(t, tableau.WriteConnectionFile(path, cfg))
	back, err := tableau.ReadConnectionFile(path)
	require.NoError(t, err)
	assert.Equal(t, "two", back.PATPool[0].Name)

	env["TABLEAU_PAT_NAME_2"] = "one"
	delete(env, "TABLEAU_PAT_SECRET_3")
	_, err = tableau.LoadConfig("", lookup)
	assert.ErrorContains(t, err, `Personal Access Token 2 name "one" is given twice`)
	assert.ErrorContains(t, err, "Personal Access Token 3 secret is required")
}

// Every field of an update reaches the connection, and an update that
// leaves them blank keeps them all.
func TestApplyCarriesEveryField(t *testing.T) {
	fields := func(c tableau.Config) []string {
		return []string{c.ServerURL, c.Site, c.APIVersion, string(c.Auth), c.PATName, c.PATSecret.Masked(), c.JWT.ClientID, c.JWT.SecretID,
			c.JWT.Secret.Masked(), c.JWT.Username, strings.Join(c.JWT.Scopes, " "), c.Username, c.Password.Masked(), c.CAFile,
			c.UAT.PrivateKeyFile, c.UAT.KeyID, c.UAT.Issuer, c.UAT.TenantID, c.UAT.Username, c.UAT.UsernameClaim, strings.Join(c.UAT.Scopes, " ")}
	}
	c := tableau.Config{}.Apply(tableau.ConnectionUpdate{ServerURL: " host ", Site: "site", APIVersion: "3.24", Auth: tableau.AuthUAT,
		PATName: "pat", PATSecret: "pat-secret-1111", JWTClientID: "client", JWTSecretID: "secret-id", JWTSecret: "jwt-secret-2222",
		JWTUsername: "jwt-user", JWTScopes: []string{"scope-a"}, Username: "user", Password: "password-3333", CAFile: "ca.pem",
		UATPrivateKeyFile: "key.pem", UATKeyID: "kid", UATIssuer: "issuer", UATTenantID: "tenant", UATUsername: "uat-user",
		UATUsernameClaim: "email", UATScopes: []string{"scope-b"}})
	want := []string{"host", "site", "3.24", "uat", "pat", "••••••••1111", "client", "secret-id", "••••••••2222", "jwt-user", "scope-a",
		"user", "••••••••3333", "ca.pem", "key.pem", "kid", "issuer", "tenant", "uat-user", "email", "scope-b"}
	assert.Equal(t, want, fields(c))
	assert.Equal(t, want, fields(c.Apply(tableau.ConnectionUpdate{Site: "site"})), "blank fields keep what is stored")
}

// Without TABLEAU_AUTH_METHOD the method is the one whose credentials are
// set; a PAT wins when it is set too.
func TestAuthMethodIsInferredFromTheCredentials(t *testing.T) {
	key := testsuite.StartTableau(t).UATConfig(t).UAT.PrivateKeyFile
	for _, c := range []struct {
		env  map[string]string
		want tableau.AuthMethod
	}{
		{map[string]string{"TABLEAU_PAT_NAME": "p", "TABLEAU_PAT_SECRET": "pat-secret-1"}, tableau.AuthPAT},
		{map[string]string{"TABLEAU_JWT_CLIENT_ID": "c", "TABLEAU_JWT_SECRET_ID": "s", "TABLEAU_JWT_SECRET": "jwt-secret-1", "TABLEAU_JWT_USERNAME": "u"}, tableau.AuthJWT},
		{map[string]string{"TABLEAU_USERNAME": "u", "TABLEAU_PASSWORD": "password-1"}, tableau.AuthPassword},
		{map[string]string{"TABLEAU_UAT_ISSUER": "i", "TABLEAU_UAT_KEY_ID": "k", "TABLEAU_UAT_TENANT_ID": "t", "TABLEAU_UAT_USERNAME": "u", "TABLEAU_UAT_PRIVATE_KEY_FILE": key}, tableau.AuthUAT},
		{map[string]string{"TABLEAU_PAT_NAME": "p", "TABLEAU_PAT_SECRET": "pat-secret-1", "TABLEAU_USERNAME": "u", "TABLEAU_PASSWORD": "password-1"}, tableau.AuthPAT},
	} {
		c.env["TABLEAU_SERVER_URL"], c.env["TABLEAU_SITE"] = "tableau.acme.com", "acme"
		got, err := tableau.LoadConfig("", env(c.env))
		require.NoError(t, err, c.want)
		assert.Equal(t, c.want, got.Auth, "%v", c.env)
	}
}
