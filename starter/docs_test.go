package main

import (
	"bufio"
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// synopsis is the first code block of docs/cli.md, one command per line.
func synopsis(t *testing.T) []string {
	f, err := os.Open("../docs/cli.md")
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	inBlock := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		switch line := sc.Text(); {
		case line == "```" && inBlock:
			return lines
		case line == "```":
			inBlock = true
		case inBlock:
			lines = append(lines, line)
		}
	}
	t.Fatal("docs/cli.md has no synopsis block")
	return nil
}

// synopsisFlags reads one synopsis line: the command, and each flag it
// shows under the sub-command it belongs to ("" for the command itself).
// A sub-command is a lower-case word first or after a "|".
func synopsisFlags(line string) (command string, flags map[string][]string) {
	words := strings.Fields(strings.NewReplacer("[", " ", "]", " ", "(", " ", ")", " ").Replace(line))
	command, flags = words[1], map[string][]string{}
	sub, subNext := "", true
	for _, w := range words[2:] {
		switch {
		case w == "|":
			subNext = true
		case strings.HasPrefix(w, "--"):
			name, _, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
			flags[sub] = append(flags[sub], name)
			subNext = false
		case subNext && regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(w):
			sub, subNext = w, false
			if _, seen := flags[sub]; !seen {
				flags[sub] = nil // its --help is run even if it shows no flag
			}
		default:
			subNext = false
		}
	}
	return command, flags
}

// docs/cli.md's synopsis is what starter takes: every command is in it, and
// every flag it shows is one its command's --help lists.
func TestCLIPageSynopsisIsWhatStarterTakes(t *testing.T) {
	documented := map[string]bool{}
	for _, line := range synopsis(t) {
		command, flags := synopsisFlags(line)
		documented[command] = true
		for sub, names := range flags {
			name := strings.TrimSpace(command + " " + sub)
			args := append(strings.Fields(name), "--help")
			var out, errOut bytes.Buffer
			code := run(t.Context(), args, strings.NewReader(""), &out, &errOut)
			help := out.String() + errOut.String()
			assert.Equal(t, exitOK, code, "starter %s --help: %s", name, help)
			for _, flag := range names {
				assert.Regexp(t, `(?m)^\s+-`+regexp.QuoteMeta(flag)+`\b`, help, "docs/cli.md shows %s --%s: starter %s --help lists it", name, flag, name)
			}
		}
	}
	for _, c := range commands {
		assert.True(t, documented[c.name], "docs/cli.md's synopsis has starter %s", c.name)
	}
}
