package tableau

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwtLifetime keeps exp well inside Tableau's 10-minute limit, leaving room
// for clock skew.
const jwtLifetime = 5 * time.Minute

// sign builds a connected-app (direct trust) JWT for one sign-in: HS256,
// header kid = secret ID and iss = client ID, a fresh jti every time.
func (j JWTConfig) sign(now time.Time) (string, error) {
	scopes := j.Scopes
	if len(scopes) == 0 {
		scopes = DefaultJWTScopes
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": j.ClientID,
		"sub": j.Username,
		"aud": "tableau",
		"exp": now.Add(jwtLifetime).Unix(),
		"jti": rand.Text(),
		"scp": scopes,
	})
	tok.Header["kid"] = j.SecretID
	tok.Header["iss"] = j.ClientID
	signed, err := tok.SignedString([]byte(j.Secret.reveal()))
	if err != nil {
		return "", fmt.Errorf("signing the connected-app JWT: %w", err)
	}
	return signed, nil
}
