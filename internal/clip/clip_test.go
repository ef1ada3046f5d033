package clip_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"tabflow/internal/clip"
)

func TestText(t *testing.T) {
	for _, c := range []struct {
		name, in string
		n        int
		want     string
	}{
		{"short text is kept", "ana@example.com", 64, "ana@example.com"},
		{"exactly n bytes is kept", "abcd", 4, "abcd"},
		{"cut between characters", "ééééé", 3, "é… (10 bytes in all)"},
		{"a cut inside the first character keeps none of it", "ééé", 1, "… (6 bytes in all)"},
		{"long text says its length", strings.Repeat("x", 1000), 5, "xxxxx… (1000 bytes in all)"},
	} {
		assert.Equal(t, c.want, clip.Text(c.in, c.n), c.name)
	}
}
