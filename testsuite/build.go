package testsuite

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build builds each main package (e.g. "tabflow/worker") into dir, named
// after its last path element, and returns the binaries' paths in order.
func Build(dir string, pkgs ...string) ([]string, error) {
	var out []string
	for _, pkg := range pkgs {
		bin := filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("building %s: %w", pkg, err)
		}
		out = append(out, bin)
	}
	return out, nil
}
