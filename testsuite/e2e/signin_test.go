package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/temporalproto"

	"tabflow/testsuite/faketableau"
	"tabflow/workflows"
)

// A sign-in answer Tableau (or a proxy) garbled — its site not an object —
// never puts its session token into workflow history, and that session is
// signed out: the provision still lands, on the next attempt.
func TestUnreadableSignInAnswerLeavesNoTokenInHistory(t *testing.T) {
	s := startStack(t)
	var issued string
	s.fake.Inject(faketableau.Fault{PathContains: "/auth/signin", Times: 1, Rewrite: func(answer string) string {
		issued = regexp.MustCompile(`"token":"([^"]+)"`).FindStringSubmatch(answer)[1]
		return strings.Replace(answer, `"site":{`, `"site":"garbled","siteObject":{`, 1)
	}})
	var res workflows.ProvisionResult
	err := s.run(t, "garbled-signin", workflows.ProvisionWorkflow, workflows.ProvisionInput{User: "ana@example.com", Role: "Explorer"}, &res)
	require.NotEmpty(t, issued, "the fault applied")
	hist, jerr := temporalproto.CustomJSONMarshalOptions{}.Marshal(fetchHistory(t, s.client, "garbled-signin", ""))
	require.NoError(t, jerr)
	assert.NotContains(t, string(hist), issued, "the token is not in history")
	if err != nil {
		assert.NotContains(t, err.Error(), issued)
	}
	t.Logf("provision after a garbled sign-in answer: %v (%s)", err, res.Message)
	assert.Zero(t, s.fake.LiveSessions(), "every session was signed out, the garbled one too")
	assert.Zero(t, s.fake.Collisions(), "the garbled session was signed out, not ended by the next sign-in")
	assert.Equal(t, "Explorer", s.fake.Role(faketableau.SandboxSite, "ana@example.com"))
}
