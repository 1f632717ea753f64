package lambdarie

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// buildTimeout bounds one build.
const buildTimeout = 5 * time.Minute

// Builds builds the binaries of one test binary once each, into a temporary
// directory, on first use or in the background (Prebuild), so that builds
// overlap with the database servers' start-up and a test waits for the
// binaries it needs only. A TestMain makes one with NewBuilds and Closes it
// after m.Run.
type Builds struct {
	dir    string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	m      sync.Map // key -> *buildResult
}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// NewBuilds makes a Builds building into a new temporary directory named
// after prefix.
func NewBuilds(prefix string) (*Builds, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Builds{dir: dir, ctx: ctx, cancel: cancel}, nil
}

// MustNewBuilds is NewBuilds for a TestMain: on error it prints it and exits
// with status 1.
func MustNewBuilds(prefix string) *Builds {
	b, err := NewBuilds(prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lambdarie:", err)
		os.Exit(1)
	}
	return b
}

// Get returns the binary for key, building it with build (into the
// directory it is given) on first use; every later call returns the first
// call's result.
func (b *Builds) Get(key string, build func(ctx context.Context, dir string) (string, error)) (string, error) {
	v, _ := b.m.LoadOrStore(key, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(b.ctx, buildTimeout)
		defer cancel()
		r.path, r.err = build(ctx, b.dir)
	})
	return r.path, r.err
}

// RIE returns the pinned Runtime Interface Emulator (BuildRIE).
func (b *Builds) RIE() (string, error) { return b.Get("rie", BuildRIE) }

// Function returns the bootstrap of functions/<name> (BuildFunction).
func (b *Builds) Function(name string) (string, error) {
	return b.Get(name, func(ctx context.Context, dir string) (string, error) { return BuildFunction(ctx, dir, name) })
}

// Package returns the bootstrap of the main package pkg, named name
// (BuildPackage).
func (b *Builds) Package(name, pkg string) (string, error) {
	return b.Get(name, func(ctx context.Context, dir string) (string, error) { return BuildPackage(ctx, dir, name, pkg) })
}

// Prebuild runs each of fns (calls of RIE, Function, Package or Get) in the
// background; their errors are kept for the test that needs the binary.
func (b *Builds) Prebuild(fns ...func()) {
	for _, f := range fns {
		b.wg.Go(f)
	}
}

// Close cancels the builds still running (ones a -run selection did not
// need), waits for them and removes the directory.
func (b *Builds) Close() {
	b.cancel()
	b.wg.Wait()
	_ = os.RemoveAll(b.dir)
}

// Need returns the binary get returns (such as a Builds method value),
// failing t if its build failed.
func Need(t testing.TB, get func() (string, error)) string {
	t.Helper()
	path, err := get()
	if err != nil {
		t.Fatal(err)
	}
	return path
}
