package workflows

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const contractFile = "testdata/release-contract.txt"

// contract lists what workers of different releases exchange through
// Temporal: every workflow type, and every JSON field of every input,
// result, signal and update (nested types too).
func contract() []string {
	roots := []reflect.Type{reflect.TypeFor[AccessEvent](), reflect.TypeFor[ApproveInput](), reflect.TypeFor[HistoryPage](), reflect.TypeFor[LeaseRequest](), reflect.TypeFor[LeaseGrant]()}
	var lines []string
	for name, fn := range All {
		lines = append(lines, "workflow "+name)
		t := reflect.TypeOf(fn)
		roots = append(roots, t.In(1))
		for i := range t.NumOut() {
			roots = append(roots, t.Out(i))
		}
	}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] || !strings.HasPrefix(t.PkgPath(), "tabflow/") {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			lines = append(lines, fmt.Sprintf("%s.%s %s", t.Name(), name, f.Type))
			walk(f.Type)
		}
	}
	for _, t := range roots {
		walk(t)
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}

// A release's contract is recorded with its number: changing the contract
// without raising Release fails here, because workers of the previous
// release, still running until the new one is current, may be handed what
// they cannot read (docs/development.md). Record anew with
// TABFLOW_RECORD_CONTRACT=1 once Release says the truth.
func TestContractChangesRaiseTheRelease(t *testing.T) {
	want := fmt.Sprintf("release %d\n%s\n", Release, strings.Join(contract(), "\n"))
	if os.Getenv("TABFLOW_RECORD_CONTRACT") == "1" {
		require.NoError(t, os.WriteFile(contractFile, []byte(want), 0o644))
	}
	data, err := os.ReadFile(contractFile)
	require.NoError(t, err)
	recorded := string(data)
	if strings.HasPrefix(recorded, fmt.Sprintf("release %d\n", Release)) {
		assert.Equal(t, recorded, want, "the workflow contract changed within release %d: raise workflows.Release if the previous release cannot read it, then record the contract (TABFLOW_RECORD_CONTRACT=1)", Release)
	} else {
		assert.Fail(t, "workflows.Release changed: record its contract with TABFLOW_RECORD_CONTRACT=1")
	}
}
