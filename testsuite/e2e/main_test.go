package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binaries built once for the tests that run tabflow as people do.
var bin struct{ worker, starter string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tabflow-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.worker, bin.starter = filepath.Join(dir, "worker"), filepath.Join(dir, "starter")
	for pkg, out := range map[string]string{"tabflow/worker": bin.worker, "tabflow/starter": bin.starter} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg+":", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
