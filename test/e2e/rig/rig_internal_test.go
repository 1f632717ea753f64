package rig

import (
	"context"
	"os"
	"slices"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.0.0.2:1/x", true},
		{"http://[::1]:9000", true},
		{"tcp://127.0.0.1:5432", true},
		{"http://0.0.0.0:8080", false},
		{"http://localhost:8080", false}, // a name could resolve anywhere
		{"http://10.0.0.1:8080", false},
		{"http://example.com", false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			if got := CheckLoopback(tc.url) == nil; got != tc.want {
				t.Errorf("CheckLoopback(%q) ok = %t, want %t", tc.url, got, tc.want)
			}
		})
	}
}

// TestProgramTB: Fatalf ends the wrapped call with an error, a panic from an
// unimplemented method is an error too, and cleanup runs last first and
// removes temporary directories.
func TestProgramTB(t *testing.T) {
	tb := newProgramTB(context.Background(), "x")
	var order []int
	var dir string
	err := tb.run(func() {
		dir = tb.TempDir()
		tb.Cleanup(func() { order = append(order, 1) })
		tb.Cleanup(func() { order = append(order, 2) })
		tb.Fatalf("boom %d", 42)
		t.Error("Fatalf returned")
	})
	if err == nil || err.Error() != "x: boom 42" {
		t.Errorf("run error = %v, want x: boom 42", err)
	}
	if !tb.Failed() {
		t.Error("Failed() = false after Fatalf")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("temp dir gone before cleanup: %v", err)
	}
	tb.cleanup()
	tb.cleanup() // twice is harmless
	if !slices.Equal(order, []int{2, 1}) {
		t.Errorf("cleanup order = %v, want [2 1]", order)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temp dir still there after cleanup: %v", err)
	}
	err = tb.run(func() { tb.Skip("not implemented by programTB") })
	if err == nil {
		t.Error("an unimplemented testing.TB method did not turn into an error")
	}
}
