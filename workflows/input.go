package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"tabflow/activities"
	"tabflow/internal/clip"
	"tabflow/tableau"
)

// maxNameLength bounds user names (Tableau's own limit is 255).
const maxNameLength = 255

// DataConverter is the data converter of every tabflow worker, test
// environment and replayer: Temporal's default, except that workflow
// inputs, signals and updates (the types that embed inputProblems) are
// decoded by decodeInput.
var DataConverter = converter.NewCompositeDataConverter(
	converter.NewNilPayloadConverter(),
	converter.NewByteSlicePayloadConverter(),
	converter.NewProtoJSONPayloadConverter(),
	converter.NewProtoPayloadConverter(),
	checkedJSON{converter.NewJSONPayloadConverter()},
)

// inputProblems, embedded in a workflow input, signal or update, holds what
// was wrong with the JSON it was decoded from.
type inputProblems struct{ problems []string }

func (p *inputProblems) setProblems(list []string) { p.problems = list }

// checked is a type whose JSON decodeInput checks.
type checked interface{ setProblems([]string) }

// checkedJSON is Temporal's JSON payload converter, but decodes checked types
// with decodeInput.
type checkedJSON struct {
	*converter.JSONPayloadConverter
}

func (c checkedJSON) FromPayload(p *commonpb.Payload, valuePtr any) error {
	in, ok := valuePtr.(checked)
	if !ok {
		return c.JSONPayloadConverter.FromPayload(p, valuePtr)
	}
	in.setProblems(decodeInput(p.GetData(), valuePtr))
	return nil
}

// decodeInput decodes a workflow input or signal leniently: it never fails,
// but returns what was wrong (unknown fields, keys given twice, values of
// the wrong type). A decoding error would fail the workflow task over and
// over; a problem list lets the workflow fail at once with a message naming
// the field.
func decodeInput(data []byte, dst any) []string {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return []string{"input must be a JSON object"}
	}
	var problems []string
	known := jsonFieldNames(reflect.TypeOf(dst).Elem())
	for name := range fields {
		if !slices.Contains(known, name) {
			problems = append(problems, fmt.Sprintf("%s: unknown field (known fields: %s)", fieldName(name), strings.Join(known, ", ")))
		}
	}
	for _, name := range duplicateKeys(data) {
		problems = append(problems, fmt.Sprintf("%s: given more than once, which is ambiguous", fieldName(name)))
	}
	var typeErr *json.UnmarshalTypeError
	if err := json.Unmarshal(data, dst); errors.As(err, &typeErr) {
		problems = append(problems, fmt.Sprintf("%s: must be a JSON %s, not %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value))
	} else if err != nil {
		problems = append(problems, err.Error())
	}
	slices.Sort(problems) // map order must not leak into workflow history
	return problems
}

// duplicateKeys lists the top-level keys that occur more than once: Go's
// decoder would silently keep the last, so {"user":"ana","user":"ben"} would
// provision ben.
func duplicateKeys(data []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	var dups []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return dups
		}
		key, _ := t.(string)
		if seen[key] && !slices.Contains(dups, key) {
			dups = append(dups, key)
		}
		seen[key] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return dups
		}
	}
	return dups
}

// fieldName names a field from input: as it is when short and plain,
// quoted and cut short otherwise.
func fieldName(name string) string {
	if len(name) <= 64 && !strings.ContainsFunc(name, unicode.IsControl) {
		return name
	}
	return strconv.Quote(clip.Text(name, 64))
}

func jsonFieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice:
		return "array"
	}
	return t.String()
}

// problems accumulates input problems, each naming its field.
type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+" "+fmt.Sprintf(format, args...))
}

// err is the workflow's failure for bad input: not retryable.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return temporal.NewNonRetryableApplicationError("invalid input: "+joinProblems(p), activities.ErrInvalidInput, nil)
}

func joinProblems(p problems) string { return strings.Join(p, "; ") }

// newInvalidInput is the non-retryable failure for input that cannot be used.
func newInvalidInput(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, activities.ErrInvalidInput, nil)
}

// checkUserName validates a Tableau user name (on Cloud, an e-mail address).
func (p *problems) checkUserName(field, name string) {
	switch {
	case name == "":
		p.add(field, "is required (the Tableau user name; on Tableau Cloud, the e-mail address)")
	case strings.TrimSpace(name) == "":
		p.add(field, "must not be blank")
	case len(name) > maxNameLength:
		p.add(field, "is %d characters long; Tableau user names have at most %d", len(name), maxNameLength)
	case strings.TrimSpace(name) != name:
		p.add(field, "%q must not start or end with spaces", clip.Text(name, 64))
	case strings.ContainsFunc(name, unicode.IsControl):
		p.add(field, "%q contains control characters", clip.Text(name, 64))
	case !tableau.FilterValueOK(name):
		p.add(field, "%q contains a comma: Tableau's user filter (name:eq:…) cannot look such a name up", clip.Text(name, 64))
	}
}

// checkRole validates a role with parse (which says "did you mean").
func (p *problems) checkRole(field, role string, parse func(string) (tableau.SiteRole, error)) tableau.SiteRole {
	r, err := parse(role)
	if err != nil {
		p.add(field, "%s", err.Error())
	}
	return r
}

// checkText bounds a free-text field (a filter, search terms).
func (p *problems) checkText(field, value string) bool {
	if len(value) > maxTextLength {
		p.add(field, "is %d bytes long; at most %d", len(value), maxTextLength)
		return false
	}
	return true
}

// checkQuery bounds query parameters passed through to Tableau.
func (p *problems) checkQuery(field string, q map[string]string) {
	if len(q) > maxQueryParams {
		p.add(field, "has %d parameters; at most %d", len(q), maxQueryParams)
		return
	}
	keys := slices.Sorted(maps.Keys(q)) // map order must not leak into workflow history
	for _, k := range keys {
		if len(k)+len(q[k]) > maxTextLength {
			p.add(field, "parameter %q is %d bytes long; at most %d", clip.Text(k, 64), len(k)+len(q[k]), maxTextLength)
		}
	}
}
