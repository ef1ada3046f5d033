package tableau_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"tabflow/tableau"
	"tabflow/testsuite"
	"tabflow/testsuite/faketableau"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Secrets and tokens never reach an error, a log or anything echoed.

func TestNoSecretOrTokenLeaks(t *testing.T) {
	fake := testsuite.StartTableau(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var outputs []string
	record := func(err error) {
		if err != nil {
			outputs = append(outputs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
			if js, jerr := json.Marshal(err); jerr == nil {
				outputs = append(outputs, string(js))
			}
		}
	}
	// Tableau echoing the request back in an error body must not leak it either.
	fake.Inject(faketableau.Fault{PathContains: "/auth/signin", Times: 1, Status: 400, Body: "bad request: " + faketableau.SandboxAdminSecret})
	cfgs := []tableau.Config{fake.PATConfig(), fake.JWTConfig(), fake.PasswordConfig()}
	for _, cfg := range cfgs {
		c := fake.Client(t, cfg, tableau.WithLogger(logger))
		record(c.WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
			outputs = append(outputs, fmt.Sprintf("%+v %#v", s, s))
			_, err := s.GetUser(ctx, "no-such-user")
			record(err)
			_, err = s.UpdateSiteRole(ctx, "no-such-user", "Boss")
			record(err)
			return errors.New("done")
		}))
		js, _ := json.Marshal(cfg)
		outputs = append(outputs, string(js), fmt.Sprintf("%+v", cfg))
	}
	for _, cfg := range cfgs {
		cfg.PATSecret, cfg.JWT.Secret, cfg.Password = tableau.NewSecret("wrong-secret-aaaa"), tableau.NewSecret("wrong-secret-bbbb"), tableau.NewSecret("wrong-secret-cccc")
		_, err := fake.Client(t, cfg, tableau.WithLogger(logger)).SignIn(testsuite.Context(t))
		record(err)
	}
	outputs = append(outputs, logs.String())
	require.NotEmpty(t, logs.String(), "debug logging was on")

	secrets := []string{faketableau.SandboxAdminSecret, faketableau.SandboxJWTSecret, faketableau.SandboxAdminPassword, "wrong-secret-aaaa", "wrong-secret-bbbb", "wrong-secret-cccc"}
	for _, r := range fake.Requests() {
		if r.Token != "" {
			secrets = append(secrets, r.Token)
		}
	}
	all := strings.Join(outputs, "\n")
	for _, s := range secrets {
		assert.NotContains(t, all, s)
	}
	assert.Contains(t, all, "bad request: ••••••••0000", "an echoed secret is masked")
}

func decodeJWT(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64URLDecode(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, dst))
	}
	return header, claims
}

// A server or proxy that echoes the sign-in body must not put any part of a
// secret into an error, in any encoding, wherever the error text is cut.
func TestEchoedSignInBodyLeaksNoPartOfASecret(t *testing.T) {
	fake := testsuite.StartTableau(t)
	const secret = "Zq9<x>&y\"PATsecretTail7f3a"
	cfg := fake.PATConfig()
	cfg.PATSecret = tableau.NewSecret(secret)
	pw := fake.PasswordConfig()
	pw.Password = tableau.NewSecret(secret)
	echoes := map[string]func([]byte) string{
		"raw": func(b []byte) string { return string(b) },
		"JSON-escaped": func(b []byte) string {
			d, _ := json.Marshal(string(b))
			return `{"error":{"code":"401001","summary":"Signin Error","detail":` + string(d) + `}}`
		},
		"HTML-escaped":   func(b []byte) string { return "<html><body>" + html.EscapeString(string(b)) + "</body></html>" },
		"URL-encoded":    func(b []byte) string { return "rejected: " + url.QueryEscape(string(b)) },
		"cut mid-secret": func(b []byte) string { return strings.Repeat("p", 300-strings.Index(string(b), "Zq9")-5) + string(b) },
		"cut mid-escaped": func(b []byte) string {
			d, _ := json.Marshal(string(b))
			return strings.Repeat("p", 290-strings.Index(string(d), "Zq9")) + string(d)
		},
		"cut mid-password": func(b []byte) string { return strings.Repeat("p", 297-strings.Index(string(b), "Zq9")) + string(b) },
		"echo cut short":   func(b []byte) string { return "rejected: " + string(b[:strings.Index(string(b), "Zq9")+9]) },
	}
	for name, echo := range echoes {
		for _, c := range []tableau.Config{cfg, pw} {
			t.Run(name+"/"+string(c.Auth), func(t *testing.T) {
				remove := fake.Inject(faketableau.Fault{PathContains: "signin", Status: 401, Echo: echo})
				defer remove()
				_, err := fake.Client(t, c).SignIn(testsuite.Context(t))
				require.Error(t, err)
				msg := err.Error()
				for _, form := range []string{secret, url.QueryEscape(secret), html.EscapeString(secret), `\u003cx\u003e`} {
					for k := 5; k <= len(form); k++ {
						require.NotContains(t, msg, form[:k], "a %d-byte prefix of the secret survived: %s", k, msg)
					}
				}
				assert.NotContains(t, msg, "PATsecretTail", msg)
			})
		}
	}
}

// The signed JWT opens Tableau for its lifetime: an echoed sign-in body
// never puts it (or a part of it) into an error.
func TestEchoedSignInBodyLeaksNoJWT(t *testing.T) {
	fake := testsuite.StartTableau(t)
	var sent string
	echo := func(b []byte) string {
		var body struct {
			Credentials struct {
				JWT string `json:"jwt"`
			} `json:"credentials"`
		}
		_ = json.Unmarshal(b, &body)
		sent = body.Credentials.JWT
		return `{"error":{"code":"401001","summary":"Signin Error","detail":"you sent ` + string(b) + `"}}`
	}
	for _, cfg := range []tableau.Config{fake.JWTConfig(), fake.UATConfig(t)} { // a connected app's and a UAT
		for _, status := range []int{401, 200} { // a refusal, and an answer that is not Tableau's
			remove := fake.Inject(faketableau.Fault{PathContains: "signin", Status: status, Echo: echo})
			_, err := fake.Client(t, cfg).SignIn(testsuite.Context(t))
			remove()
			require.Error(t, err)
			require.NotEmpty(t, sent)
			parts := strings.Split(sent, ".")
			require.Len(t, parts, 3)
			for _, p := range parts[1:] { // the claims and the signature
				assert.NotContains(t, err.Error(), p[:12], "%s, HTTP %d: %s", cfg.Auth, status, err)
			}
		}
	}
}

// A 2xx sign-in answer that does not decode as expected (a field of another
// type, a truncated body) never carries its session token into an error or
// a log, and that session is signed out; a field tabflow can do without
// costs only that field.
func TestUnreadableSignInAnswerLeaksNoTokenAndLeavesNoSession(t *testing.T) {
	token := regexp.MustCompile(`"token":"([^"]+)"`)
	cases := []struct {
		name    string
		rewrite func(answer string) string
		fails   string // "" = the sign-in works
	}{
		{"the PAT's expiry as a number", func(a string) string {
			return regexp.MustCompile(`"estimatedTimeToExpiration":"[^"]*"`).ReplaceAllString(a, `"estimatedTimeToExpiration":1234`)
		}, ""},
		{"the site as a string", func(a string) string {
			return regexp.MustCompile(`"site":\{[^}]*\}`).ReplaceAllString(a, `"site":"acme"`)
		}, "the answer has no site ID"},
		{"a truncated answer", func(a string) string { return a[:len(a)-5] }, "the answer is not Tableau's"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := testsuite.StartTableau(t)
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var issued string
			fake.Inject(faketableau.Fault{PathContains: "/auth/signin", Times: 1, Rewrite: func(a string) string {
				issued = token.FindStringSubmatch(a)[1]
				return c.rewrite(a)
			}})
			client := fake.Client(t, fake.PATConfig(), tableau.WithLogger(logger))
			err := client.WithSession(testsuite.Context(t), 0, func(ctx context.Context, s *tableau.Session) error {
				_, err := s.CurrentSession(ctx)
				return err
			})
			require.NotEmpty(t, issued)
			if c.fails == "" {
				require.NoError(t, err, "the session worked")
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.fails)
				assert.Contains(t, err.Error(), "••••", "the token is shown masked")
			}
			for _, out := range []string{fmt.Sprint(err), fmt.Sprintf("%+v %#v", err, err), logs.String()} {
				assert.NotContains(t, out, issued, "the session token leaked")
			}
			assert.Zero(t, fake.LiveSessions(), "the session was signed out")
		})
	}
}
