package quickstart

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tabflow/testsuite"
)

// docStep is a command a page shows in an sh block, and what the page says
// it prints: the "# " lines under it.
type docStep struct {
	words   []string
	printed string
}

func (s docStep) String() string { return strings.Join(s.words, " ") }

// docSteps reads a page's sh blocks: each command (over "\" line ends,
// without its trailing comment) and the lines it prints.
func docSteps(t *testing.T, page string) []docStep {
	data, err := os.ReadFile(page)
	require.NoError(t, err)
	var steps []docStep
	inBlock, pending := false, ""
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "```sh"):
			inBlock = true
		case strings.HasPrefix(line, "```"):
			inBlock = false
		case !inBlock:
		case strings.HasPrefix(line, "#"):
			require.NotEmpty(t, steps, "%s: output before any command: %s", page, line)
			steps[len(steps)-1].printed += strings.TrimPrefix(line, "#") + "\n"
		case strings.HasSuffix(line, `\`):
			pending += strings.TrimSuffix(line, `\`)
		default:
			steps = append(steps, docStep{words: shellWords(t, pending+line)})
			pending = ""
		}
	}
	return steps
}

// shellWords splits a command line as sh does, for what pages use: quotes
// and a trailing comment.
func shellWords(t *testing.T, line string) []string {
	var words []string
	var word strings.Builder
	inWord := false
	end := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\'' || c == '"':
			n := strings.IndexByte(line[i+1:], c)
			require.GreaterOrEqual(t, n, 0, "unclosed %c in %s", c, line)
			word.WriteString(line[i+1 : i+1+n])
			i += n + 1
			inWord = true
		case c == ' ' || c == '\t':
			end()
		case c == '#' && !inWord:
			end()
			return words
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	end()
	return words
}

// printedIn says what of a page's printed lines out lacks: the page elides
// with "…", so each piece between must appear in out, in order, spaces and
// line breaks aside.
func printedIn(printed, out string) (missing string, ok bool) {
	out = strings.Join(strings.Fields(out), " ")
	for piece := range strings.SplitSeq(printed, "…") {
		piece = strings.Trim(strings.Join(strings.Fields(piece), " "), " ,{}")
		if piece == "" {
			continue
		}
		i := strings.Index(out, piece)
		if i < 0 {
			return piece, false
		}
		out = out[i+len(piece):]
	}
	return "", true
}

// runPage runs every command of a page's sh blocks on q's dev and checks
// each prints what the page shows. A query is asked again until it does (for
// a few seconds), as the pages say a query shows an event once applied.
func (q *quickStart) runPage(page string) []string {
	var outs []string
	for _, step := range docSteps(q.t, page) {
		var out string
		switch w := step.words; {
		case w[0] == "starter":
			out = q.starter(w[1:]...)
		case len(w) > 2 && w[0] == "go" && w[1] == "run" && w[2] == "./starter":
			out = q.starter(w[3:]...)
		case w[0] == "go": // go run ./dev and go test ./...: what this suite and CI do
			continue
		case w[0] == "temporal":
			deadline := time.Now().Add(10 * time.Second)
			for out = q.temporalCLI(w[1:]); strings.Contains(step.String(), " query ") && time.Now().Before(deadline); out = q.temporalCLI(w[1:]) {
				if _, ok := printedIn(step.printed, out); ok {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		default:
			q.t.Fatalf("%s shows a command this test cannot run: %s", page, step)
		}
		missing, ok := printedIn(step.printed, out)
		assert.True(q.t, ok, "%s: %s\nthe page shows:\n%s\nit printed:\n%s\nmissing: %q", page, step, step.printed, out, missing)
		outs = append(outs, out)
	}
	return outs
}

// Every command README.md and docs/entity.md show, run in order on one fresh
// dev, prints what they show: the quick start's provision, the workflows
// started with the temporal CLI, the entity's update, signal and queries, and
// starter's grants, revokes and access show with the group's warning.
func TestReadmeAndEntityPageCommandsOnAFreshDev(t *testing.T) {
	q := newQuickStart(t)
	dev := q.startDev()
	defer dev.stop()
	require.Len(t, q.runPage("../../README.md"), 7, "the README's commands: quick start, temporal CLI, the entity")
	require.GreaterOrEqual(t, len(q.runPage("../../docs/entity.md")), 4)
}

// Every starter command docs/reconcile.md shows runs on a fresh dev as the
// page says: the drift it tells you to make is listed, a published plan
// says how to approve it, and that approval applies it.
func TestReconcilePageCommandsOnAFreshDev(t *testing.T) {
	q := newQuickStart(t)
	dev := q.startDev()
	defer dev.stop()
	outs := q.runPage("../../docs/reconcile.md")
	require.GreaterOrEqual(t, len(outs), 6, "the page's commands")
	assert.Contains(t, outs[2], "starter reconcile approve --id ", "a published plan says how to approve it")
	assert.Regexp(t, `ben@example.com\s+Creator\s+Viewer`, outs[len(outs)-1], "the drift the page makes is listed: expected Creator, Tableau Viewer")

	published := q.starter("reconcile", "--approve")
	approve := regexp.MustCompile(`starter (reconcile approve --id \S+ --plan-id \S+)`).FindStringSubmatch(published)
	require.NotNil(t, approve, published)
	applied := q.starter(strings.Fields(approve[1])...)
	assert.Contains(t, applied, "Applied 1 of 1 change through the entities", "the approval the plan printed applies it")
	assert.Contains(t, q.starter("users", "get", "--user", "ben@example.com"), "Creator", "ben is back to his grant")
}

func newQuickStart(t *testing.T) *quickStart {
	bins, err := testsuite.Build(t.TempDir(), "tabflow/dev", "tabflow/starter")
	require.NoError(t, err)
	return &quickStart{t: t, devBin: bins[0], starterBin: bins[1], dir: t.TempDir(), ports: freePorts(t, 4)}
}
