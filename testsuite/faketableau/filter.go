package faketableau

import (
	"fmt"
	"slices"
	"strings"
)

// userFilter is Tableau's filter for Get Users on Site: expressions
// field:operator:value joined by commas (all must match); an in-list is
// written [a,b]. The fields and operators are the ones Tableau documents for
// users.
type userFilter []func(*User) bool

var userFilterFields = map[string]struct {
	value func(*User) string
	ops   []string
}{
	"name":         {func(u *User) string { return u.Name }, []string{"eq", "in"}},
	"siteRole":     {func(u *User) string { return u.SiteRole }, []string{"eq", "in"}},
	"lastLogin":    {func(u *User) string { return u.LastLogin }, []string{"eq", "gt", "gte", "lt", "lte"}},
	"friendlyName": {func(u *User) string { return u.FullName }, []string{"eq", "in", "has"}},
	"email":        {func(u *User) string { return u.Email }, []string{"eq", "in"}},
	"luid":         {func(u *User) string { return u.ID }, []string{"eq", "in"}},
}

func parseUserFilter(expr string) (userFilter, error) {
	var f userFilter
	for _, part := range splitFilter(expr) {
		field, rest, ok1 := strings.Cut(part, ":")
		op, value, ok2 := strings.Cut(rest, ":")
		spec, known := userFilterFields[field]
		if !ok1 || !ok2 || !known || !slices.Contains(spec.ops, op) {
			return nil, fmt.Errorf("the filter expression '%s' is not valid", part)
		}
		get := spec.value
		switch op {
		case "eq":
			f = append(f, func(u *User) bool { return strings.EqualFold(get(u), value) })
		case "in":
			list := strings.Split(strings.Trim(value, "[]"), ",")
			f = append(f, func(u *User) bool {
				for _, v := range list {
					if strings.EqualFold(get(u), v) {
						return true
					}
				}
				return false
			})
		case "has":
			f = append(f, func(u *User) bool { return strings.Contains(strings.ToLower(get(u)), strings.ToLower(value)) })
		default: // gt, gte, lt, lte on ISO 8601 times, which sort as text
			f = append(f, func(u *User) bool {
				v := get(u)
				if v == "" {
					return false
				}
				c := strings.Compare(v, value)
				return op == "gt" && c > 0 || op == "gte" && c >= 0 || op == "lt" && c < 0 || op == "lte" && c <= 0
			})
		}
	}
	return f, nil
}

// splitFilter splits on the commas that join expressions, not those inside [].
func splitFilter(expr string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range expr {
		switch r {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, expr[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, expr[start:])
}

func (f userFilter) match(u *User) bool {
	for _, m := range f {
		if !m(u) {
			return false
		}
	}
	return true
}
