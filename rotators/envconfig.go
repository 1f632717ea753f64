package rotators

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Settings the rotators that connect over TLS read from their function's
// environment. This file is the one place that parses them: every engine
// package reads them through these functions.
const (
	// EnvCABundle names a PEM file of extra roots that verify a server's
	// certificate, on top of the system roots.
	EnvCABundle = "ROTARY_CA_BUNDLE"
	// EnvConnectTimeout bounds each connection attempt: a duration such as
	// 5s, or a whole number of seconds, more than 0 and at most 10m.
	EnvConnectTimeout = "ROTARY_CONNECT_TIMEOUT"
)

// MaxTimeout is the largest timeout a setting may hold.
const MaxTimeout = 10 * time.Minute

// ParseTimeout reads a timeout setting: a Go duration ("5s", "1500ms") or a
// whole number of seconds ("5"), more than 0 and at most MaxTimeout.
func ParseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			return 0, errors.New(`must be a duration such as "5s" or a whole number of seconds`)
		}
		// Checked before multiplying: 2^34 seconds would overflow into a
		// small positive duration.
		if n < 1 || n > int(MaxTimeout/time.Second) {
			return 0, errors.New("must be more than 0 and at most 10m")
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 || d > MaxTimeout {
		return 0, errors.New("must be more than 0 and at most 10m")
	}
	return d, nil
}

// TimeoutFromEnv returns the timeout setting name read through getenv
// (ParseTimeout's syntax), or def when it is unset. The error names the
// setting.
func TimeoutFromEnv(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return def, nil
	}
	d, err := ParseTimeout(s)
	if err != nil {
		return 0, fmt.Errorf("%s %w", name, err)
	}
	return d, nil
}

// ConnectTimeoutFromEnv returns EnvConnectTimeout read through getenv, or def
// when it is unset. A malformed or out-of-range value is an error.
func ConnectTimeoutFromEnv(getenv func(string) string, def time.Duration) (time.Duration, error) {
	return TimeoutFromEnv(getenv, EnvConnectTimeout, def)
}

// CABundleFileFromEnv returns the path EnvCABundle names, read through
// getenv, after checking that the file holds at least one PEM certificate;
// "" when it is unset. It does not load the system roots: LazyRoots does, on
// the first TLS connection, so a cold start does not pay for them (about
// 12 ms and 4 MiB) before it needs them.
func CABundleFileFromEnv(getenv func(string) string) (string, error) {
	path := strings.TrimSpace(getenv(EnvCABundle))
	if err := CheckCABundle(path); err != nil {
		return "", err
	}
	return path, nil
}

// CheckCABundle reports a CA bundle file that cannot be read or holds no PEM
// certificate, without loading the system roots; "" (no bundle) is fine.
func CheckCABundle(path string) error {
	if path == "" {
		return nil
	}
	_, err := bundleCerts(path)
	return err
}

// LazyRoots returns a function that returns the roots verifying a server's
// certificate: nil without a CA bundle (crypto/tls then uses the system
// roots), else the system roots plus the bundle's certificates. The pool is
// built on the first call only, and the same pool (or error) is returned
// afterwards. Safe for concurrent use.
func LazyRoots(caBundleFile string) func() (*x509.CertPool, error) {
	return sync.OnceValues(func() (*x509.CertPool, error) {
		if caBundleFile == "" {
			return nil, nil
		}
		certs, err := bundleCerts(caBundleFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
		return pool, nil
	})
}

// RootsOf returns the roots a rotator verifies servers with: pool when it is
// set (a caller's explicit choice, tests' throwaway CAs), else
// LazyRoots(caBundleFile).
func RootsOf(pool *x509.CertPool, caBundleFile string) func() (*x509.CertPool, error) {
	if pool != nil {
		return func() (*x509.CertPool, error) { return pool, nil }
	}
	return LazyRoots(caBundleFile)
}

// bundles holds, per CA bundle path, the file's certificates (or the error
// reading them), parsed once per process: the central function's start-up
// checks the bundle once per engine and each rotator adds it to its roots,
// and a bundle such as RDS's (about 120 certificates) costs some 2 ms and
// 1 MB to parse.
var bundles sync.Map // path → func() ([]*x509.Certificate, error)

// bundleCerts returns the certificates of the PEM file path, parsed on the
// first call for path only; an error when the file cannot be read or holds
// no certificate.
func bundleCerts(path string) ([]*x509.Certificate, error) {
	f, ok := bundles.Load(path)
	if !ok {
		f, _ = bundles.LoadOrStore(path, sync.OnceValues(func() ([]*x509.Certificate, error) { return readCABundle(path) }))
	}
	return f.(func() ([]*x509.Certificate, error))()
}

// readCABundle parses the certificates of the PEM file path, skipping the
// blocks x509.CertPool.AppendCertsFromPEM skips.
func readCABundle(path string) ([]*x509.Certificate, error) {
	rest, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", EnvCABundle, err)
	}
	var certs []*x509.Certificate
	for len(rest) > 0 {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			continue
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s (%s) holds no PEM certificate", EnvCABundle, path)
	}
	return certs, nil
}
