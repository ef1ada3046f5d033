package tableau

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
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

// redact replaces every secret's text in s with its masked form. It is the
// last line of defence for text that came from elsewhere (a response body
// echoing what we sent, a transport error).
func redact(s string, secrets ...Secret) string {
	for _, sec := range secrets {
		if v := sec.reveal(); len(v) >= 4 && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, sec.Masked())
		}
	}
	return s
}
