package testsuite

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// BuildRelease builds main package pkg (e.g. "./worker") of this
// repository as it was at commit, into dir: the release people run today,
// for tests that upgrade from it. The commit must be in the clone's history
// (a shallow clone lacks it: git fetch --unshallow).
func BuildRelease(dir, commit, pkg string) (string, error) {
	src := filepath.Join(dir, "src-"+commit)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	tarball := src + ".tar"
	// From a subdirectory git archive takes only that directory: archive
	// from the top of the work tree.
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("finding this repository's git history: %w", err)
	}
	archive := exec.Command("git", "archive", "--format=tar", "-o", tarball, commit)
	archive.Dir = strings.TrimSpace(string(top))
	if out, err := archive.CombinedOutput(); err != nil {
		return "", fmt.Errorf("extracting release %s from git history (a shallow clone lacks it: git fetch --unshallow): %v: %s", commit, err, out)
	}
	if out, err := exec.Command("tar", "-xf", tarball, "-C", src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("unpacking release %s: %v: %s", commit, err, out)
	}
	bin := filepath.Join(dir, filepath.Base(pkg)+"-"+commit)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir, cmd.Stdout, cmd.Stderr = src, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s at %s: %w", pkg, commit, err)
	}
	return bin, nil
}
