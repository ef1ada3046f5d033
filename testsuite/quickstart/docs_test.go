package quickstart

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/testsuite"
)

// docCommands are the starter commands of a page's sh blocks, in order,
// without their comments.
func docCommands(t *testing.T, page string) [][]string {
	f, err := os.Open(page)
	require.NoError(t, err)
	defer f.Close()
	var cmds [][]string
	inBlock := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```sh"):
			inBlock = true
		case strings.HasPrefix(line, "```"):
			inBlock = false
		case inBlock && strings.HasPrefix(line, "starter "):
			line, _, _ = strings.Cut(line, "#")
			cmds = append(cmds, strings.Fields(line)[1:])
		}
	}
	return cmds
}

// Every starter command docs/reconcile.md shows runs on a fresh dev as the
// page says: the drift it tells you to make is listed, a published plan
// says how to approve it, and that approval applies it.
func TestReconcilePageCommandsOnAFreshDev(t *testing.T) {
	bins, err := testsuite.Build(t.TempDir(), "tabflow/dev", "tabflow/starter")
	require.NoError(t, err)
	q := &quickStart{t: t, devBin: bins[0], starterBin: bins[1], dir: t.TempDir(), ports: freePorts(t, 4)}
	dev := q.startDev()
	defer dev.stop()
	cmds := docCommands(t, "../../docs/reconcile.md")
	require.GreaterOrEqual(t, len(cmds), 6, "the page's commands: %v", cmds)
	var last string
	for _, args := range cmds {
		last = q.starter(args...)
		if strings.Join(args, " ") == "reconcile --approve" {
			assert.Contains(t, last, "starter reconcile approve --id ", "a published plan says how to approve it")
		}
	}
	assert.Regexp(t, `ben@example.com\s+Creator\s+Viewer`, last, "the drift the page makes is listed: expected Creator, Tableau Viewer")

	published := q.starter("reconcile", "--approve")
	approve := regexp.MustCompile(`starter (reconcile approve --id \S+ --plan-id \S+)`).FindStringSubmatch(published)
	require.NotNil(t, approve, published)
	applied := q.starter(strings.Fields(approve[1])...)
	assert.Contains(t, applied, "Applied 1 of 1 change through the entities", "the approval the plan printed applies it")
	assert.Contains(t, q.starter("users", "get", "--user", "ben@example.com"), "Creator", "ben is back to his grant")
}
