package tableau

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultConnectionFile is where the CLI keeps the connection:
// $XDG_CONFIG_HOME/tabflow/connection.json (or the OS equivalent).
func DefaultConnectionFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "tabflow", "connection.json")
}

// connectionFile is the on-disk form. It is the one place secrets are written
// in the clear, in a file of mode 0600.
type connectionFile struct {
	ServerURL  string `json:"serverUrl,omitempty"`
	Site       string `json:"site"`
	APIVersion string `json:"apiVersion,omitempty"`
	Auth       string `json:"auth,omitempty"`
	PATName    string `json:"patName,omitempty"`
	PATSecret  string `json:"patSecret,omitempty"`
	PATPool    []struct {
		Name   string `json:"name"`
		Secret string `json:"secret"`
	} `json:"patPool,omitempty"`
	JWTClientID string   `json:"jwtClientId,omitempty"`
	JWTSecretID string   `json:"jwtSecretId,omitempty"`
	JWTSecret   string   `json:"jwtSecret,omitempty"`
	JWTUsername string   `json:"jwtUsername,omitempty"`
	JWTScopes   []string `json:"jwtScopes,omitempty"`
	Username    string   `json:"username,omitempty"`
	Password    string   `json:"password,omitempty"`
	CAFile      string   `json:"caFile,omitempty"`
	Timeout     string   `json:"timeout,omitempty"`
	// A UAT's key stays in its own file: the connection file names it.
	UATPrivateKeyFile string   `json:"uatPrivateKeyFile,omitempty"`
	UATKeyID          string   `json:"uatKeyId,omitempty"`
	UATIssuer         string   `json:"uatIssuer,omitempty"`
	UATTenantID       string   `json:"uatTenantId,omitempty"`
	UATUsername       string   `json:"uatUsername,omitempty"`
	UATUsernameClaim  string   `json:"uatUsernameClaim,omitempty"`
	UATScopes         []string `json:"uatScopes,omitempty"`
}

// ReadConnectionFile loads a connection file. A missing file gives an error
// matching fs.ErrNotExist.
func ReadConnectionFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var f connectionFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Config{}, fmt.Errorf("connection file %s is not valid JSON: %w", path, err)
	}
	c := Config{
		ServerURL: f.ServerURL, Site: f.Site, APIVersion: f.APIVersion, Auth: AuthMethod(f.Auth),
		PATName: f.PATName, PATSecret: NewSecret(f.PATSecret),
		JWT:      JWTConfig{ClientID: f.JWTClientID, SecretID: f.JWTSecretID, Secret: NewSecret(f.JWTSecret), Username: f.JWTUsername, Scopes: f.JWTScopes},
		Username: f.Username, Password: NewSecret(f.Password), CAFile: f.CAFile,
		UAT: UATConfig{PrivateKeyFile: f.UATPrivateKeyFile, KeyID: f.UATKeyID, Issuer: f.UATIssuer, TenantID: f.UATTenantID,
			Username: f.UATUsername, UsernameClaim: f.UATUsernameClaim, Scopes: f.UATScopes},
	}
	for _, p := range f.PATPool {
		c.PATPool = append(c.PATPool, PAT{Name: p.Name, Secret: NewSecret(p.Secret)})
	}
	if f.Timeout != "" {
		if c.Timeout, err = time.ParseDuration(f.Timeout); err != nil {
			return Config{}, fmt.Errorf("connection file %s: timeout %q: %w", path, f.Timeout, err)
		}
	}
	return c, nil
}

// WriteConnectionFile stores c at path with mode 0600 (its folder 0700),
// replacing any earlier file atomically.
func WriteConnectionFile(path string, c Config) error {
	f := connectionFile{
		ServerURL: c.ServerURL, Site: c.Site, APIVersion: c.APIVersion, Auth: string(c.Auth),
		PATName: c.PATName, PATSecret: c.PATSecret.reveal(),
		JWTClientID: c.JWT.ClientID, JWTSecretID: c.JWT.SecretID, JWTSecret: c.JWT.Secret.reveal(),
		JWTUsername: c.JWT.Username, JWTScopes: c.JWT.Scopes,
		Username: c.Username, Password: c.Password.reveal(), CAFile: c.CAFile,
		UATPrivateKeyFile: c.UAT.PrivateKeyFile, UATKeyID: c.UAT.KeyID, UATIssuer: c.UAT.Issuer, UATTenantID: c.UAT.TenantID,
		UATUsername: c.UAT.Username, UATUsernameClaim: c.UAT.UsernameClaim, UATScopes: c.UAT.Scopes,
	}
	for _, p := range c.PATPool {
		f.PATPool = append(f.PATPool, struct {
			Name   string `json:"name"`
			Secret string `json:"secret"`
		}{p.Name, p.Secret.reveal()})
	}
	if c.Timeout > 0 {
		f.Timeout = c.Timeout.String()
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".connection-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ConnectionUpdate is an edit of a stored connection, as typed into a form or
// passed as CLI flags. A blank field keeps the stored value, except Site,
// which is always saved: an empty Site switches the connection to the
// Default site.
type ConnectionUpdate struct {
	ServerURL   string
	Site        string
	APIVersion  string
	Auth        AuthMethod
	PATName     string
	PATSecret   string
	JWTClientID string
	JWTSecretID string
	JWTSecret   string
	JWTUsername string
	JWTScopes   []string
	Username    string
	Password    string
	CAFile      string
	// UAT settings; the key by its file's path.
	UATPrivateKeyFile, UATKeyID, UATIssuer, UATTenantID, UATUsername, UATUsernameClaim string
	UATScopes                                                                          []string
}

// Apply returns c edited by u. The result is not yet validated.
func (c Config) Apply(u ConnectionUpdate) Config {
	texts := []struct {
		stored *string
		v      string
	}{
		{&c.ServerURL, u.ServerURL}, {&c.APIVersion, u.APIVersion}, {&c.PATName, u.PATName},
		{&c.JWT.ClientID, u.JWTClientID}, {&c.JWT.SecretID, u.JWTSecretID}, {&c.JWT.Username, u.JWTUsername},
		{&c.Username, u.Username}, {&c.CAFile, u.CAFile},
		{&c.UAT.PrivateKeyFile, u.UATPrivateKeyFile}, {&c.UAT.KeyID, u.UATKeyID}, {&c.UAT.Issuer, u.UATIssuer},
		{&c.UAT.TenantID, u.UATTenantID}, {&c.UAT.Username, u.UATUsername}, {&c.UAT.UsernameClaim, u.UATUsernameClaim},
	}
	for _, f := range texts {
		if v := strings.TrimSpace(f.v); v != "" {
			*f.stored = v
		}
	}
	secrets := []struct {
		stored *Secret
		v      string
	}{{&c.PATSecret, u.PATSecret}, {&c.JWT.Secret, u.JWTSecret}, {&c.Password, u.Password}}
	for _, f := range secrets {
		if f.v != "" {
			*f.stored = NewSecret(f.v)
		}
	}
	lists := []struct{ stored, v *[]string }{{&c.JWT.Scopes, &u.JWTScopes}, {&c.UAT.Scopes, &u.UATScopes}}
	for _, f := range lists {
		if len(*f.v) > 0 {
			*f.stored = *f.v
		}
	}
	c.Site = strings.TrimSpace(u.Site)
	if u.Auth != "" {
		c.Auth = u.Auth
	}
	return c
}

// LookupEnv is os.LookupEnv's shape, so tests can pass a map.
type LookupEnv func(string) (string, bool)

// LoadConfig reads the connection file at path (a missing file is fine) and
// lets environment variables override it, as containers expect. Secrets may
// come from a file named by the variable with _FILE appended. The result is
// validated.
func LoadConfig(path string, env LookupEnv) (Config, error) {
	var c Config
	if path != "" {
		var err error
		if c, err = ReadConnectionFile(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Config{}, err
		}
	}
	if err := c.applyEnv(env); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c *Config) applyEnv(env LookupEnv) error {
	str := func(dst *string, name string) {
		if v, ok := env(name); ok {
			*dst = strings.TrimSpace(v)
		}
	}
	secret := func(dst *Secret, name string) error {
		if path, ok := env(name + "_FILE"); ok && path != "" {
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("%s_FILE: cannot read %s: %w", name, path, errors.Unwrap(err))
			}
			*dst = NewSecret(strings.TrimRight(string(data), "\r\n"))
		} else if v, ok := env(name); ok {
			*dst = NewSecret(v)
		}
		return nil
	}
	str(&c.ServerURL, "TABLEAU_SERVER_URL")
	str(&c.Site, "TABLEAU_SITE")
	str(&c.APIVersion, "TABLEAU_API_VERSION")
	str(&c.PATName, "TABLEAU_PAT_NAME")
	str(&c.JWT.ClientID, "TABLEAU_JWT_CLIENT_ID")
	str(&c.JWT.SecretID, "TABLEAU_JWT_SECRET_ID")
	str(&c.JWT.Username, "TABLEAU_JWT_USERNAME")
	str(&c.Username, "TABLEAU_USERNAME")
	str(&c.CAFile, "TABLEAU_CA_FILE")
	if v, ok := env("TABLEAU_JWT_SCOPES"); ok {
		c.JWT.Scopes = splitList(v)
	}
	str(&c.UAT.PrivateKeyFile, "TABLEAU_UAT_PRIVATE_KEY_FILE")
	str(&c.UAT.KeyID, "TABLEAU_UAT_KEY_ID")
	str(&c.UAT.Issuer, "TABLEAU_UAT_ISSUER")
	str(&c.UAT.TenantID, "TABLEAU_UAT_TENANT_ID")
	str(&c.UAT.Username, "TABLEAU_UAT_USERNAME")
	str(&c.UAT.UsernameClaim, "TABLEAU_UAT_USERNAME_CLAIM")
	if v, ok := env("TABLEAU_UAT_SCOPES"); ok {
		c.UAT.Scopes = splitList(v)
	}
	if v, ok := env("TABLEAU_UAT_PRIVATE_KEY"); ok {
		c.UAT.PrivateKey = NewSecret(v)
	}
	if v, ok := env("TABLEAU_AUTH_METHOD"); ok && v != "" {
		c.Auth = AuthMethod(strings.ToLower(strings.TrimSpace(v)))
	}
	if v, ok := env("TABLEAU_TIMEOUT"); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("TABLEAU_TIMEOUT %q is not a duration (e.g. 30s)", v)
		}
		c.Timeout = d
	}
	for _, s := range []struct {
		dst  *Secret
		name string
	}{{&c.PATSecret, "TABLEAU_PAT_SECRET"}, {&c.JWT.Secret, "TABLEAU_JWT_SECRET"}, {&c.Password, "TABLEAU_PASSWORD"}} {
		if err := secret(s.dst, s.name); err != nil {
			return err
		}
	}
	// More PATs of the pool: TABLEAU_PAT_NAME_2/TABLEAU_PAT_SECRET_2 (or
	// _SECRET_2_FILE), _3, … until a number is missing. Set in the
	// environment, they replace the file's pool.
	var pool []PAT
	for n := 2; ; n++ {
		name, okName := env(fmt.Sprintf("TABLEAU_PAT_NAME_%d", n))
		var sec Secret
		if err := secret(&sec, fmt.Sprintf("TABLEAU_PAT_SECRET_%d", n)); err != nil {
			return err
		}
		if !okName && sec.IsZero() {
			break
		}
		pool = append(pool, PAT{Name: strings.TrimSpace(name), Secret: sec})
	}
	if len(pool) > 0 {
		c.PATPool = pool
	}
	if c.Auth == "" {
		c.Auth = c.inferAuth()
	}
	return nil
}

// inferAuth picks the method whose credentials are present, so that setting
// only TABLEAU_JWT_* or TABLEAU_USERNAME/PASSWORD just works.
func (c Config) inferAuth() AuthMethod {
	switch {
	case c.PATName == "" && c.JWT.ClientID != "":
		return AuthJWT
	case c.PATName == "" && c.Username != "":
		return AuthPassword
	case c.PATName == "" && c.UAT.Issuer != "":
		return AuthUAT
	default:
		return AuthPAT
	}
}

func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}
