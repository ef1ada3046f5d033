package tableau_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/tableau"
)

const rawSecret = "pat-secret-value-7f3a"

func TestSecretNeverPrints(t *testing.T) {
	s := tableau.NewSecret(rawSecret)
	assert.Equal(t, "••••••••7f3a", s.Masked())

	type holder struct {
		Exported   tableau.Secret
		unexported tableau.Secret
		Config     tableau.Config
	}
	h := holder{Exported: s, unexported: s, Config: tableau.Config{PATSecret: s, JWT: tableau.JWTConfig{Secret: s}, Password: s}}

	assert.Equal(t, `"••••••••7f3a"`, fmt.Sprintf("%q", s), "%q quotes the masked form")
	assert.Equal(t, "••••••••7f3a", fmt.Sprintf("%v", s))
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h))
	}
	js, err := json.Marshal(h)
	require.NoError(t, err)
	outputs = append(outputs, string(js))

	var logs bytes.Buffer
	for _, handler := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		slog.New(handler).Info("config", "secret", s, "config", h.Config, "any", any(s))
	}
	outputs = append(outputs, logs.String())

	for _, out := range outputs {
		assert.NotContains(t, out, rawSecret)
		assert.NotContains(t, out, fmt.Sprintf("%x", rawSecret))
	}
	assert.Contains(t, string(js), "••••••••7f3a")
	assert.Contains(t, logs.String(), "••••••••7f3a")
}

func TestSecretShortIsAllBullets(t *testing.T) {
	assert.Equal(t, "••••••••", tableau.NewSecret("abc12345").Masked())
	assert.Equal(t, "", tableau.NewSecret("").Masked())
	assert.True(t, tableau.NewSecret("").IsZero())
}
