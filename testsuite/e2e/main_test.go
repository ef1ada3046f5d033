package e2e

import (
	"fmt"
	"os"
	"testing"

	"tabflow/testsuite"
)

// Binaries built once for the tests that run tabflow as people do.
var bin struct{ worker, starter string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tabflow-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins, err := testsuite.Build(dir, "tabflow/worker", "tabflow/starter")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.worker, bin.starter = bins[0], bins[1]
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
