package dbtest

import (
	"os"
	"strings"
	"sync"
	"testing"
)

// sharedServer is one server per test binary, started on first use in a
// directory of its own that outlives the test that started it, so a package's
// tests share its start-up cost (they make fresh users per test).
type sharedServer[S interface{ stop() }] struct {
	once sync.Once
	s    S
	ok   bool // s was started
	dir  string
	err  error
}

// get starts the server with start on first use (name is for the directory
// and error messages) and returns it; it fails t if the start failed.
func (sh *sharedServer[S]) get(t testing.TB, name string, start func(CA, string) (S, error)) S {
	t.Helper()
	NeedsServers(t)
	sh.once.Do(func() {
		dir, err := os.MkdirTemp("", "dbtest-"+strings.ToLower(name)+"-")
		if err != nil {
			sh.err = err
			return
		}
		sh.dir = dir
		// NewCA writes into t's temporary directory, removed when t ends; copy
		// the files somewhere that lives as long as the server.
		ca, err := copyCA(NewCA(t), dir)
		if err != nil {
			sh.err = err
			return
		}
		sh.s, sh.err = start(ca, dir)
		sh.ok = sh.err == nil
	})
	if sh.err != nil {
		t.Fatalf("dbtest: start shared %s: %v", name, sh.err)
	}
	return sh.s
}

// stop stops the server, if one was started, and deletes its files.
func (sh *sharedServer[S]) stop() {
	if sh.ok {
		sh.s.stop()
	}
	if sh.dir != "" {
		_ = os.RemoveAll(sh.dir)
	}
}
