package rotators

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/test/dbtest"
)

func TestConnectTimeoutFromEnv(t *testing.T) {
	for in, want := range map[string]time.Duration{"": time.Minute, "5s": 5 * time.Second, " 7 ": 7 * time.Second, "10m": 10 * time.Minute} {
		got, err := ConnectTimeoutFromEnv(func(string) string { return in }, time.Minute)
		if err != nil || got != want {
			t.Errorf("ConnectTimeoutFromEnv(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1s", "11m", "601", "soon"} {
		if got, err := ConnectTimeoutFromEnv(func(string) string { return in }, time.Minute); err == nil {
			t.Errorf("ConnectTimeoutFromEnv(%q) = %v, want an error", in, got)
		}
	}
}

func TestCABundleFileFromEnv(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	if path, err := CABundleFileFromEnv(env("")); path != "" || err != nil {
		t.Errorf("unset: %q, %v; want \"\", nil", path, err)
	}
	if pool, err := LazyRoots("")(); pool != nil || err != nil {
		t.Errorf("LazyRoots without a bundle: %v, %v; want nil (the system roots), nil", pool, err)
	}
	if _, err := CABundleFileFromEnv(env(filepath.Join(t.TempDir(), "missing.pem"))); err == nil {
		t.Error("missing file: no error")
	}
	notPEM := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := CABundleFileFromEnv(env(notPEM)); err == nil {
		t.Error("file without PEM: no error")
	}
}

// FuzzParseTimeout: an accepted timeout is positive and at most 10 minutes.
func FuzzParseTimeout(f *testing.F) {
	for _, s := range []string{"5s", "5", "1500ms", "-1s", "0", "11m", "soon"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTimeout(s)
		if err == nil && (d <= 0 || d > 10*time.Minute) {
			t.Fatalf("ParseTimeout(%q) = %s", s, d)
		}
	})
}

func TestParseTimeoutOverflow(t *testing.T) {
	// 2^34 seconds overflows time.Duration into a small positive value.
	if d, err := ParseTimeout("17179869184"); err == nil {
		t.Errorf("ParseTimeout accepted an overflowing number of seconds as %s", d)
	}
}

// TestLazyRoots: the pool is built on first use and then reused; a bundle
// is added to the system roots.
func TestLazyRoots(t *testing.T) {
	if pool, err := LazyRoots("")(); pool != nil || err != nil {
		t.Errorf("no bundle: %v, %v; want nil, nil (the system roots)", pool, err)
	}
	missing := LazyRoots(filepath.Join(t.TempDir(), "missing.pem"))
	if _, err := missing(); err == nil {
		t.Error("missing file: no error")
	}
	if err := CheckCABundle(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Error("CheckCABundle: missing file: no error")
	}
}

// TestCABundleParsedOnce: the bundle is parsed once per process, however
// many engines check it at start-up and rotators add it to their roots, and
// the roots built from the parsed certificates verify the bundle's servers.
func TestCABundleParsedOnce(t *testing.T) {
	ca := dbtest.NewCA(t)
	if err := CheckCABundle(ca.CAFile); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(10, func() { _ = CheckCABundle(ca.CAFile) }); n > 1 {
		t.Errorf("CheckCABundle after the first call: %.0f allocations; the bundle is parsed again", n)
	}
	pool, err := LazyRoots(ca.CAFile)()
	if err != nil {
		t.Fatal(err)
	}
	leafPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(leafPEM)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Fatalf("the bundle's server certificate does not verify against LazyRoots: %v", err)
	}
}
