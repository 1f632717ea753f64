package rotators

import (
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Settings the database rotators read from their function's environment.
const (
	// EnvCABundle names a PEM file of extra roots that verify a server's
	// certificate, on top of the system roots.
	EnvCABundle = "ROTARY_CA_BUNDLE"
	// EnvConnectTimeout bounds each connection attempt: a duration such as
	// 5s, or a whole number of seconds, more than 0 and at most 10m.
	EnvConnectTimeout = "ROTARY_CONNECT_TIMEOUT"
)

// ConnectTimeoutFromEnv returns EnvConnectTimeout read through getenv, or def
// when it is unset. A malformed or out-of-range value is an error.
func ConnectTimeoutFromEnv(getenv func(string) string, def time.Duration) (time.Duration, error) {
	s := strings.TrimSpace(getenv(EnvConnectTimeout))
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			n = 0
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 || d > 10*time.Minute {
		return 0, fmt.Errorf("%s must be a duration such as 5s or a whole number of seconds, more than 0 and at most 10m", EnvConnectTimeout)
	}
	return d, nil
}

// CABundleFromEnv returns the system roots plus the certificates of the PEM
// file EnvCABundle names, read through getenv, or nil (the system roots)
// when it is unset. A file that cannot be read or holds no certificate is an
// error.
func CABundleFromEnv(getenv func(string) string) (*x509.CertPool, error) {
	path := strings.TrimSpace(getenv(EnvCABundle))
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", EnvCABundle, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s (%s) holds no PEM certificate", EnvCABundle, path)
	}
	return pool, nil
}
