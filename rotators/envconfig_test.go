package rotators

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
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

// TestCABundleReadOnce: start-up's check reads and parses the bundle, and
// the roots built later use that parse (the file is not read again), with
// the bundle's CA trusted on top of the system roots.
func TestCABundleReadOnce(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rotary test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bundle.pem")
	bundle := append([]byte("a comment line\n"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	if err := os.WriteFile(path, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckCABundle(path); err != nil {
		t.Fatal(err)
	}
	// Were the file read again, this would fail the roots.
	if err := os.WriteFile(path, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	pool, err := LazyRoots(path)()
	if err != nil || pool == nil {
		t.Fatalf("LazyRoots: %v, %v; want the system roots plus the bundle", pool, err)
	}
	if _, err := ca.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("the bundle's CA is not in the roots: %v", err)
	}
}
