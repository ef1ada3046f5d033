package tableau

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// FlexInt is a number Tableau may send as a JSON string ("100") or number.
type FlexInt int

func (n *FlexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	*n = FlexInt(v)
	return nil
}

// oneOrMany is a list Tableau may send as one object when it has one element.
type oneOrMany[T any] []T

func (l *oneOrMany[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*l = nil
		return nil
	case b[0] == '[':
		var many []T
		err := json.Unmarshal(b, &many)
		*l = many
		return err
	default:
		var one T
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = oneOrMany[T]{one}
		return nil
	}
}

// Pagination is Tableau's page header (its numbers arrive as strings).
type Pagination struct {
	PageNumber     FlexInt `json:"pageNumber"`
	PageSize       FlexInt `json:"pageSize"`
	TotalAvailable FlexInt `json:"totalAvailable"`
}
