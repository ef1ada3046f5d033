// Package words says counts as people write them.
package words

import "strconv"

// Count is n and the noun, plural unless n is 1: "1 user", "3 users",
// "1 change". Nouns whose plural is not noun+"s" are not used here.
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
