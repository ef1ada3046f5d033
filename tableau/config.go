package tableau

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"tabflow/internal/clip"
)

// AuthMethod selects how sessions are opened.
type AuthMethod string

const (
	AuthPAT      AuthMethod = "pat"      // Personal Access Token (default)
	AuthJWT      AuthMethod = "jwt"      // connected app, direct trust
	AuthPassword AuthMethod = "password" // username and password
	AuthUAT      AuthMethod = "uat"      // Unified Access Token (Tableau Cloud)
)

// DefaultAPIVersion is used for every versioned endpoint, sign-in included.
const DefaultAPIVersion = "3.24"

// DefaultTimeout bounds one HTTP request to Tableau.
const DefaultTimeout = 30 * time.Second

// Config is one Tableau connection: one site, one set of credentials.
// Secrets are Secret values, so printing or logging a Config is safe.
type Config struct {
	ServerURL  string     `json:"serverUrl"` // bare host[:port], normalised by NormalizeServerURL
	Site       string     `json:"site"`      // site content URL; empty = Default site
	APIVersion string     `json:"apiVersion"`
	Auth       AuthMethod `json:"auth"`

	PATName   string `json:"patName,omitempty"`
	PATSecret Secret `json:"patSecret,omitzero"`
	// PATPool are more PATs of the same account: each session takes any free
	// PAT of the pool (the first one included), so sessions run in parallel.
	PATPool []PAT `json:"patPool,omitempty"`

	JWT JWTConfig `json:"jwt,omitzero"`
	UAT UATConfig `json:"uat,omitzero"`

	Username string `json:"username,omitempty"`
	Password Secret `json:"password,omitzero"`

	CAFile  string        `json:"caFile,omitempty"` // PEM bundle added to the system roots
	Timeout time.Duration `json:"timeout,omitempty"`
}

// JWTConfig is a connected app with direct trust.
type JWTConfig struct {
	ClientID string   `json:"clientId,omitempty"`
	SecretID string   `json:"secretId,omitempty"`
	Secret   Secret   `json:"secret,omitzero"`
	Username string   `json:"username,omitempty"` // the Tableau user the JWT signs in as (sub)
	Scopes   []string `json:"scopes,omitempty"`
}

// DisplayName names the connection after its site, as people see it.
func (c Config) DisplayName() string {
	if c.Site == "" {
		return "Tableau (Default site)"
	}
	return "Tableau (" + c.Site + ")"
}

// MaskedSecret is the configured credential's displayable form.
func (c Config) MaskedSecret() string {
	switch c.authMethod() {
	case AuthJWT:
		return c.JWT.Secret.Masked()
	case AuthPassword:
		return c.Password.Masked()
	case AuthUAT:
		if c.UAT.PrivateKey.IsBlank() {
			return "private key file " + c.UAT.PrivateKeyFile
		}
		return c.UAT.PrivateKey.Masked()
	default:
		return c.PATSecret.Masked()
	}
}

func (c Config) authMethod() AuthMethod {
	if c.Auth == "" {
		return AuthPAT
	}
	return c.Auth
}

func (c Config) apiVersion() string {
	switch {
	case c.APIVersion != "":
		return c.APIVersion
	case c.authMethod() == AuthUAT:
		return DefaultUATAPIVersion
	}
	return DefaultAPIVersion
}

// EffectiveAPIVersion is the REST API version every call uses.
func (c Config) EffectiveAPIVersion() string { return c.apiVersion() }

func (c Config) secrets() []Secret {
	out := []Secret{c.PATSecret, c.JWT.Secret, c.Password, c.UAT.PrivateKey}
	for _, p := range c.PATPool {
		out = append(out, p.Secret)
	}
	return out
}

// PAT is one Personal Access Token: its name (a label) and secret.
type PAT struct {
	Name   string `json:"name"`
	Secret Secret `json:"secret,omitzero"`
}

// SessionsAtOnce is how many sessions this connection may have live at
// once in a process: one per PAT of the pool; 0 means no limit (JWT, UAT
// and password sessions run in parallel).
func (c Config) SessionsAtOnce() int {
	if c.authMethod() != AuthPAT {
		return 0
	}
	return len(c.PATs())
}

// PATs lists every PAT of the connection, the first one first.
func (c Config) PATs() []PAT {
	return append([]PAT{{Name: c.PATName, Secret: c.PATSecret}}, c.PATPool...)
}

var (
	hostPattern       = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)
	apiVersionPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	sitePathPattern   = regexp.MustCompile(`/site/([^/?#]+)`)
)

// NormalizeServerURL turns what people paste into the bare host[:port]:
// https://, http:// and trailing slashes are stripped; anything after the
// host is rejected, because the site belongs in the Site Content URL.
func NormalizeServerURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", errors.New("Server URL is required")
	}
	lower := strings.ToLower(s)
	for _, scheme := range []string{"https://", "http://"} {
		if strings.HasPrefix(lower, scheme) {
			s = s[len(scheme):]
			break
		}
	}
	s = strings.TrimRight(s, "/")
	if at := strings.LastIndex(s, "@"); at >= 0 && !strings.ContainsAny(s[:at], "/?#") {
		// Never echoed: what stands before the @ is a user name and password.
		return "", errors.New("Server URL must not carry a user name or password (user:password@host): give the bare host, and credentials as a PAT, a connected app or TABLEAU_USERNAME/TABLEAU_PASSWORD")
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		host, rest := s[:i], s[i:]
		msg := fmt.Sprintf("Server URL must be the host only (e.g. %s), not %q: ", clip.Text(host, 80), clip.Text(raw, 120))
		if m := sitePathPattern.FindStringSubmatch(rest); m != nil {
			return "", errors.New(msg + fmt.Sprintf("put the site %q in Site Content URL instead", m[1]))
		}
		return "", errors.New(msg + "the site goes in Site Content URL")
	}
	if !hostPattern.MatchString(s) {
		return "", fmt.Errorf("Server URL %q is not a host name", clip.Text(raw, 80))
	}
	if _, port, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("Server URL port %s is not a port number (1–65535)", clip.Text(port, 10))
		}
	}
	return strings.ToLower(s), nil
}

// IsTableauCloud reports whether host is a Tableau Cloud pod.
func IsTableauCloud(host string) bool {
	h := hostOnly(host)
	return h == "online.tableau.com" || strings.HasSuffix(h, ".online.tableau.com")
}

// Validate normalises ServerURL and checks every field, returning all problems
// at once, each naming its field, with the exact messages of SPEC §1.
func (c *Config) Validate() error {
	var errs []error
	if host, err := NormalizeServerURL(c.ServerURL); err != nil {
		errs = append(errs, err)
	} else {
		c.ServerURL = host
		if c.Site == "" && IsTableauCloud(host) {
			errs = append(errs, errors.New("Site Content URL is required for Tableau Cloud, which has no Default site: use the slug after /site/ in your browser URL (e.g. acme in https://10ax.online.tableau.com/#/site/acme/explore)"))
		}
	}
	c.Site = strings.TrimSpace(c.Site)
	if strings.ContainsAny(c.Site, "/?#: @") {
		errs = append(errs, fmt.Errorf("Site Content URL %q must be the site's slug only (the part after /site/ in a browser URL)", clip.Text(c.Site, 80)))
	}
	if c.APIVersion != "" && !apiVersionPattern.MatchString(c.APIVersion) {
		errs = append(errs, fmt.Errorf("API version %q must look like %s", clip.Text(c.APIVersion, 20), DefaultAPIVersion))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout must not be negative"))
	}
	switch c.authMethod() {
	case AuthPAT:
		if strings.TrimSpace(c.PATName) == "" {
			errs = append(errs, errors.New("Personal Access Token name is required"))
		}
		if c.PATSecret.IsBlank() {
			errs = append(errs, errors.New("Personal Access Token secret is required"))
		}
		names := map[string]bool{strings.TrimSpace(c.PATName): true}
		for i, p := range c.PATPool {
			n := i + 2 // as in TABLEAU_PAT_NAME_2
			switch {
			case strings.TrimSpace(p.Name) == "":
				errs = append(errs, fmt.Errorf("Personal Access Token %d name is required", n))
			case names[strings.TrimSpace(p.Name)]:
				errs = append(errs, fmt.Errorf("Personal Access Token %d name %q is given twice: each PAT of the pool is a different token", n, clip.Text(p.Name, 80)))
			}
			names[strings.TrimSpace(p.Name)] = true
			if p.Secret.IsBlank() {
				errs = append(errs, fmt.Errorf("Personal Access Token %d secret is required", n))
			}
		}
	case AuthJWT:
		for _, f := range []struct{ v, name string }{
			{c.JWT.ClientID, "Connected app client ID"},
			{c.JWT.SecretID, "Connected app secret ID"},
			{c.JWT.Username, "Connected app username"},
		} {
			if strings.TrimSpace(f.v) == "" {
				errs = append(errs, errors.New(f.name+" is required"))
			}
		}
		if c.JWT.Secret.IsBlank() {
			errs = append(errs, errors.New("Connected app secret value is required"))
		}
	case AuthPassword:
		if strings.TrimSpace(c.Username) == "" {
			errs = append(errs, errors.New("Username is required"))
		}
		if c.Password.IsBlank() {
			errs = append(errs, errors.New("Password is required"))
		}
	case AuthUAT:
		errs = append(errs, c.UAT.validate()...)
	default:
		errs = append(errs, fmt.Errorf("auth method %q is not one of pat, jwt, password, uat", clip.Text(string(c.Auth), 20)))
	}
	return errors.Join(errs...)
}
