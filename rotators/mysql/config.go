package mysql

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/dbrotator"
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
	// RootCAs verifies server certificates; nil means the system roots plus
	// CABundleFile's certificates, loaded on the first TLS connection.
	RootCAs *x509.CertPool
	// CABundleFile is a PEM file of CA certificates trusted in addition to
	// the system roots when RootCAs is nil. Empty: system roots only.
	CABundleFile string
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
// fails on anything malformed, so a function fails at start-up. It does not
// load the system roots: the first TLS connection does.
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
	if cfg.CABundleFile, err = rotators.CABundleFileFromEnv(getenv); err != nil {
		return cfg, fmt.Errorf("mysql config: %w", err)
	}
	return cfg, nil
}

// Stats counts the connection attempts a rotator made (every attempt is a
// login; a failed one did not end in an open session) and the statements run
// again after a transient server error (deadlock, lock wait timeout).
type Stats = dbrotator.Stats
