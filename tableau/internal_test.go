package tableau

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	assert.Equal(t, 7*time.Second, parseRetryAfter("7", now))
	assert.Equal(t, 90*time.Second, parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now))
	assert.Equal(t, time.Duration(0), parseRetryAfter(now.Add(-time.Minute).Format(http.TimeFormat), now), "a date in the past means now")
	assert.Equal(t, time.Duration(0), parseRetryAfter("soon", now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("-5", now))
}

func TestParseTimeToExpiration(t *testing.T) {
	assert.Equal(t, 177*24*time.Hour+5*time.Hour+38*time.Minute, parseTimeToExpiration("177:05:38"))
	assert.Equal(t, time.Duration(0), parseTimeToExpiration(""))
	assert.Equal(t, time.Duration(0), parseTimeToExpiration("1:2"))
}

func TestSameParentDomain(t *testing.T) {
	assert.True(t, sameParentDomain("10ax.online.tableau.com", "prod-uk-a.online.tableau.com"))
	assert.True(t, sameParentDomain("10ax.online.tableau.com", "10ax.online.tableau.com"))
	assert.False(t, sameParentDomain("10ax.online.tableau.com", "online.tableau.com.evil.com"))
	assert.False(t, sameParentDomain("10ax.online.tableau.com", "tableau.com"))
	assert.False(t, sameParentDomain("tableau.acme.com", "evil.com"))
	assert.True(t, sameParentDomain("tableau.acme.com", "pod.acme.com"))
	assert.False(t, sameParentDomain("acme.com", "evil.acme.com.attacker.io"))
	assert.False(t, sameParentDomain("127.0.0.1", "127.0.0.2"))
	assert.False(t, sameParentDomain("tableau.acme.com", "evilacme.com"), "a label boundary, not a string suffix")
	assert.False(t, sameParentDomain("10ax.online.tableau.com", "evilonline.tableau.com"))
	assert.False(t, sameParentDomain("tableau.acme.co.uk", "evil.co.uk"), "co.uk is a public suffix")
	assert.False(t, sameParentDomain("tableau.acme.com.au", "evil.com.au"), "com.au is a public suffix")
	assert.True(t, sameParentDomain("tableau.acme.co.uk", "pod.acme.co.uk"))
	assert.False(t, sameParentDomain("10ax.online.tableau.com", "evil.tableau.com"), "Tableau Cloud redirects stay on its pods")
}
