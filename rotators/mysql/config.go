package mysql

import (
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
)

// Engines are the secret engine values this package rotates.
var Engines = []string{"mysql", "aurora-mysql", "mariadb"}

// Environment variables read by ConfigFromEnv, shared with the PostgreSQL
// rotators.
const (
	// EnvCABundle names a PEM file of CA certificates trusted in addition to
	// the system roots (e.g. the RDS bundle), as for PostgreSQL.
	EnvCABundle = rotators.EnvCABundle
	// EnvConnectTimeout is a Go duration ("5s") or a whole number of seconds
	// bounding each connection attempt, at most 10 minutes.
	EnvConnectTimeout = rotators.EnvConnectTimeout
)

// DefaultConnectTimeout bounds each connection attempt when EnvConnectTimeout
// is unset.
const DefaultConnectTimeout = 5 * time.Second

// Config is what every MySQL rotator needs besides the secret.
type Config struct {
	// Passwords is the policy new passwords are generated with.
	Passwords password.Policy
	// RootCAs verifies server certificates; nil means the system roots.
	RootCAs *x509.CertPool
	// ConnectTimeout bounds each connection attempt; zero means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Endpoints resolves the database endpoint of a master secret without
	// host (RDS-managed); nil refuses such master secrets.
	Endpoints EndpointResolver
}

// ConfigFromEnv reads a Config from the environment through getenv
// (os.Getenv in production): the password policy from AWS's template
// variables with MySQL's default exclusions, the CA bundle from
// ROTARY_CA_BUNDLE and the connect timeout from ROTARY_CONNECT_TIMEOUT. It
// fails on anything malformed, so a function fails at start-up.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	p, err := password.FromEnv(getenv, password.MySQLExclude)
	if err != nil {
		return cfg, fmt.Errorf("mysql config: %w", err)
	}
	cfg.Passwords = p
	if cfg.ConnectTimeout, err = rotators.ConnectTimeoutFromEnv(getenv, DefaultConnectTimeout); err != nil {
		return cfg, fmt.Errorf("mysql config: %w", err)
	}
	if cfg.RootCAs, err = rotators.CABundleFromEnv(getenv); err != nil {
		return cfg, fmt.Errorf("mysql config: %w", err)
	}
	return cfg, nil
}

// Stats counts the connection attempts a rotator made, for benchmarks and
// metrics.
type Stats struct {
	Logins       int64 // every connection attempt
	FailedLogins int64 // attempts that did not end in an open session
	Retries      int64 // statements run again after a transient server error (deadlock, lock wait timeout)
}

type counters struct {
	logins, failed, retries atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{Logins: c.logins.Load(), FailedLogins: c.failed.Load(), Retries: c.retries.Load()}
}
