package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// lockStateDir makes dev the only one using dir: two Temporal servers on one
// SQLite file fight over its shards (SQLITE_BUSY, "Shard is owned by …")
// and their views of a workflow's history diverge. The lock is the
// kernel's (flock), so it goes with the process, however it ends; the file
// says who holds it, so a second dev can name the first's ports.
func lockStateDir(dir, holder string) (release func(), err error) {
	path := filepath.Join(dir, "dev.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		first, _ := os.ReadFile(path)
		return nil, fmt.Errorf("%s is in use by another dev (%s): use that one, stop it, or start this one with its own state: -db other-dir/temporal.db and other ports",
			dir, strings.TrimSpace(string(first)))
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(holder+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
