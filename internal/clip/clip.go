// Package clip shortens text from input or from Tableau before a message
// quotes it, so a megabyte of input never becomes a megabyte of error, log
// line or workflow detail.
package clip

import (
	"fmt"
	"unicode/utf8"
)

// Text keeps at most n bytes of s, cut between characters, and says how
// long s was: "abc… (1204 bytes in all)".
func Text(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes in all)", len(s))
}
