package rotatortest

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// envColdStartChild makes a test binary play the child of
// StartUpLeavesSystemRootsAlone; its value is the CA bundle setting.
const envColdStartChild = "ROTARY_TEST_COLDSTART_CHILD"

// StartUpLeavesSystemRootsAlone checks that a rotator package's start-up
// (build, with or without ROTARY_CA_BUNDLE) does not load the system roots:
// they are loaded on the first TLS connection (rotators.LazyRoots), because
// loading them costs a cold start about 12 ms and 4 MiB. Call it from a
// top-level test and nothing else: the test binary re-runs that test.
//
// The system roots are loaded once per process, so each case runs in a fresh
// child process whose SSL_CERT_FILE does not exist during start-up and holds a
// CA afterwards: a certificate of that CA verifies against the system roots
// only if start-up did not load them.
func StartUpLeavesSystemRootsAlone(t *testing.T, build func(*rotators.Registry, rotators.Deps) error) {
	t.Helper()
	if bundle, ok := os.LookupEnv(envColdStartChild); ok {
		coldStartChild(t, bundle, build)
		return
	}
	for _, bundle := range []string{"", dbtest.NewCA(t).CAFile} {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), envColdStartChild+"="+bundle,
			"SSL_CERT_FILE="+filepath.Join(dir, "roots.pem"), "SSL_CERT_DIR="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s=%q: start-up loaded the system roots (%v):\n%s", rotators.EnvCABundle, bundle, err, out)
		}
	}
}

func coldStartChild(t *testing.T, bundle string, build func(*rotators.Registry, rotators.Deps) error) {
	var reg rotators.Registry
	env := map[string]string{rotators.EnvCABundle: bundle}
	if err := build(&reg, rotators.Deps{Getenv: func(k string) string { return env[k] }}); err != nil {
		t.Fatal(err)
	}
	ca := dbtest.NewCA(t)
	caPEM, err := os.ReadFile(ca.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv("SSL_CERT_FILE"), caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	leafPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(leafPEM)
	if block == nil {
		t.Fatal("no PEM block in the server certificate")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "localhost"}); err != nil {
		t.Fatalf("the system roots were loaded before SSL_CERT_FILE existed: %v", err)
	}
}
