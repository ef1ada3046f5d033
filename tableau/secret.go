package tableau

import (
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"tabflow/internal/clip"
)

// Secret holds a credential (PAT secret, connected-app secret value, password).
// Every way of printing it — fmt verbs including %#v, JSON, slog — yields only
// the masked form, so a Secret can sit in a config struct that gets logged.
// The value lives in a closure: reflection-based printing (an unexported
// field, fmt's bad-verb path) can only show a func's address, never the text.
type Secret struct {
	value func() string
}

// NewSecret wraps a credential.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{value: func() string { return s }}
}

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return s.value == nil }

// IsBlank reports whether the secret is unset or only white space, which no
// Tableau credential is.
func (s Secret) IsBlank() bool { return strings.TrimSpace(s.reveal()) == "" }

// reveal returns the credential. Only the sign-in body builders, the JWT
// signer and the connection-file writer call it.
func (s Secret) reveal() string {
	if s.value == nil {
		return ""
	}
	return s.value()
}

const maskBullets = "••••••••"

// Masked is the only displayable form: bullets plus the last 4 characters
// (e.g. ••••••••7f3a). Short secrets show bullets only, since their last 4
// would be most of the secret.
func (s Secret) Masked() string {
	v := []rune(s.reveal())
	switch {
	case len(v) == 0:
		return ""
	case len(v) < 12:
		return maskBullets
	default:
		return maskBullets + string(v[len(v)-4:])
	}
}

func (s Secret) String() string   { return s.Masked() }
func (s Secret) GoString() string { return fmt.Sprintf("tableau.Secret(%q)", s.Masked()) }

// Format makes every fmt verb (%v %+v %#v %s %q %x …) print the masked form.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, s.GoString())
	case verb == 'q':
		fmt.Fprintf(f, "%q", s.Masked())
	default:
		fmt.Fprint(f, s.Masked())
	}
}

// MarshalJSON writes the masked form; a Secret never round-trips through JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.Masked()) }

// LogValue makes slog print the masked form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.Masked()) }

// redact replaces every secret's text in s with its masked form, in every
// encoding a server or proxy may echo it in: raw, JSON-escaped (with and
// without HTML escaping), URL-encoded and HTML-escaped. It is the last line
// of defence for text that came from elsewhere (a response body echoing what
// we sent, a transport error).
func redact(s string, secrets ...Secret) string {
	for _, sec := range secrets {
		for _, v := range sec.encodings() {
			s = strings.ReplaceAll(s, v, sec.Masked())
		}
	}
	return s
}

// scrub makes text from elsewhere fit to show: redacted first (so a secret
// that straddles the cut is masked whole), the beginning of a secret that the
// text itself ends with dropped (a server or proxy that cut its echo short),
// then cut to at most n bytes.
func scrub(s string, n int, secrets ...Secret) string {
	return clip.Text(trimSecretPrefix(redact(s, secrets...), secrets), n)
}

// minPartialSecret is the shortest beginning of a secret that trimSecretPrefix
// drops: shorter ones match ordinary text ("r" of "Error").
const minPartialSecret = 4

// trimSecretPrefix drops the end of s when it is the beginning of a secret.
func trimSecretPrefix(s string, secrets []Secret) string {
	for _, sec := range secrets {
		for _, v := range sec.encodings() {
			for k := min(len(v)-1, len(s)); k >= minPartialSecret; k-- {
				if strings.HasSuffix(s, v[:k]) {
					return s[:len(s)-k] + maskBullets
				}
			}
		}
	}
	return s
}

// encodings lists the forms the secret may be echoed in (4 bytes or more,
// so a short value cannot match ordinary text): raw and JSON-escaped, as the
// sign-in body carries it, and each of those JSON-escaped again (with and
// without HTML escaping), URL-encoded or HTML-escaped by whoever echoes it.
func (s Secret) encodings() []string {
	v := s.reveal()
	if len(v) < 4 {
		return nil
	}
	var out []string
	add := func(e string) {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	bases := []string{v, jsonEscape(v, true), jsonEscape(v, false)}
	for _, b := range bases {
		for _, e := range []string{b, jsonEscape(b, true), jsonEscape(b, false), url.QueryEscape(b), url.PathEscape(b), html.EscapeString(b)} {
			add(e)
		}
	}
	return out
}

// jsonEscape is s as it appears inside a JSON string.
func jsonEscape(s string, escapeHTML bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(s)
	return strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(b.String(), `"`), "\n"), `"`)
}
