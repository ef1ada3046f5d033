package faketableau

import (
	"crypto/rsa"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// UATIssuer is a Unified Access Token configuration of a Tableau Cloud
// site: the issuer, tenant and public key (by key ID) it trusts, and the
// claim that names the user.
type UATIssuer struct {
	Issuer, TenantID, KeyID string
	PublicKey               *rsa.PublicKey
	UsernameClaim           string // default email
}

// AddUATIssuer makes a site accept UATs of an issuer.
func (s *Server) AddUATIssuer(siteURL string, u UATIssuer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustSite(siteURL)
	if u.UsernameClaim == "" {
		u.UsernameClaim = "email"
	}
	s.uat[u.Issuer+"\x00"+u.KeyID] = &uatIssuer{UATIssuer: u, site: siteURL}
}

type uatIssuer struct {
	UATIssuer
	site string
}

// verifyUAT checks a UAT as SPEC §2 describes it: RS256 signed by the key of
// the header's kid under the claimed issuer, for this tenant, with a unique
// jti, iat/nbf, an exp at most 5 minutes ahead (plus skew), and a user of
// the site under the issuer's username claim. The caller holds s.mu.
func (s *Server) verifyUAT(st *site, raw, apiVersion string) (*User, []string, reply) {
	if compareVersions(apiVersion, "3.27") < 0 {
		return nil, nil, fail(400, codeBadRequest, "Bad Request", fmt.Sprintf("Unified Access Tokens need REST API 3.27 or later, not %s.", apiVersion))
	}
	var issuer *uatIssuer
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		iss, _ := t.Claims.(jwt.MapClaims)["iss"].(string)
		u, ok := s.uat[iss+"\x00"+kid]
		if !ok || u.site != st.contentURL {
			return nil, fmt.Errorf("unknown issuer or key")
		}
		issuer = u
		return u.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if issuer == nil || err != nil {
		return nil, nil, signInError("Error signing in to Tableau Cloud: the Unified Access Token is not valid")
	}
	exp, _ := claims.GetExpirationTime()
	jti, _ := claims["jti"].(string)
	tenant, _ := claims["https://tableau.com/tenantId"].(string)
	switch {
	case time.Until(exp.Time) > 5*time.Minute+30*time.Second:
		return nil, nil, signInError("Error signing in to Tableau Cloud: the token's exp is too far ahead")
	case tenant != issuer.TenantID:
		return nil, nil, signInError("Error signing in to Tableau Cloud: the token is for another tenant")
	case jti == "" || s.uatJTIs[jti]:
		return nil, nil, signInError("Error signing in to Tableau Cloud: the token's jti was used before")
	}
	s.uatJTIs[jti] = true
	name, _ := claims[issuer.UsernameClaim].(string)
	user := s.findUser(st, name)
	if user == nil {
		return nil, nil, signInError("Error signing in to Tableau Cloud: no such user")
	}
	var scopes []string
	if list, ok := claims["scp"].([]any); ok {
		for _, v := range list {
			if sc, ok := v.(string); ok {
				scopes = append(scopes, strings.TrimSpace(sc))
			}
		}
	}
	return user, scopes, reply{}
}
