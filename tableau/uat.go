package tableau

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// UATConfig is a Unified Access Token (Tableau Cloud, December 2025): an RS256
// JWT signed with the customer's own private key, whose public key Tableau
// knows by KeyID under Issuer and TenantID (SPEC §2).
type UATConfig struct {
	// PrivateKeyFile is the PEM (PKCS#8 or PKCS#1) RSA private key's file,
	// read at every sign-in (so a rotated key is picked up); PrivateKey is
	// the key itself when given inline (TABLEAU_UAT_PRIVATE_KEY). A secret
	// either way: never shown, never quoted in an error.
	PrivateKeyFile string   `json:"privateKeyFile,omitempty"`
	PrivateKey     Secret   `json:"privateKey,omitzero"`
	KeyID          string   `json:"keyId,omitempty"`
	Issuer         string   `json:"issuer,omitempty"`
	TenantID       string   `json:"tenantId,omitempty"`
	Username       string   `json:"username,omitempty"`
	Scopes         []string `json:"scopes,omitempty"`
	// UsernameClaim is the claim that carries Username (default email).
	UsernameClaim string `json:"usernameClaim,omitempty"`
}

// UAT sign-ins need REST API 3.27 or later: its default version.
const DefaultUATAPIVersion = "3.27"

// DefaultUATUsernameClaim names the user when UsernameClaim is not set.
const DefaultUATUsernameClaim = "email"

// UATTenantClaim carries the tenant ID.
const UATTenantClaim = "https://tableau.com/tenantId"

// uatLifetime is the token's lifetime (SPEC: exp 5 minutes).
const uatLifetime = 5 * time.Minute

func (u UATConfig) usernameClaim() string {
	if u.UsernameClaim == "" {
		return DefaultUATUsernameClaim
	}
	return u.UsernameClaim
}

// key parses the private key; its error never quotes the key.
func (u UATConfig) key() (*rsa.PrivateKey, error) {
	pem := []byte(u.PrivateKey.reveal())
	if u.PrivateKey.IsBlank() {
		var err error
		if pem, err = os.ReadFile(u.PrivateKeyFile); err != nil {
			return nil, fmt.Errorf("UAT private key file %s cannot be read: %w", u.PrivateKeyFile, errors.Unwrap(err))
		}
	}
	k, err := jwt.ParseRSAPrivateKeyFromPEM(pem)
	if err != nil {
		return nil, errors.New("UAT private key is not an RSA private key in PEM form (PKCS#8 or PKCS#1)")
	}
	return k, nil
}

// validate lists what is missing or wrong, each naming its setting.
func (u UATConfig) validate() []error {
	var errs []error
	if u.PrivateKey.IsBlank() && u.PrivateKeyFile == "" {
		errs = append(errs, errors.New("UAT private key is required (TABLEAU_UAT_PRIVATE_KEY_FILE: a PEM file)"))
	} else if _, err := u.key(); err != nil {
		errs = append(errs, err)
	}
	for _, f := range []struct{ v, name string }{
		{u.KeyID, "UAT key ID"}, {u.Issuer, "UAT issuer"}, {u.TenantID, "UAT tenant ID"}, {u.Username, "UAT username"},
	} {
		if strings.TrimSpace(f.v) == "" {
			errs = append(errs, errors.New(f.name+" is required"))
		}
	}
	return errs
}

// sign builds the UAT for one sign-in: RS256, header kid, a unique jti,
// iat/nbf now and exp 5 minutes on.
func (u UATConfig) sign(now time.Time) (string, error) {
	key, err := u.key()
	if err != nil {
		return "", err
	}
	scopes := u.Scopes
	if len(scopes) == 0 {
		scopes = DefaultJWTScopes
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":             u.Issuer,
		UATTenantClaim:    u.TenantID,
		u.usernameClaim(): u.Username,
		"scp":             scopes,
		"jti":             rand.Text(),
		"iat":             now.Unix(),
		"nbf":             now.Unix(),
		"exp":             now.Add(uatLifetime).Unix(),
	})
	tok.Header["kid"] = u.KeyID
	signed, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("signing the UAT: %w", err)
	}
	return signed, nil
}
