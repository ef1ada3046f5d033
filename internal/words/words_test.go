package words

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 users", 1: "1 user", 2: "2 users", 1000: "1000 users"} {
		assert.Equal(t, want, Count(n, "user"))
	}
}
