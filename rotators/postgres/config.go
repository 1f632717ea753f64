package postgres

import (
	"fmt"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
)

// Engines are the secret engine values these rotators handle, for
// rotators.Registry.Register.
var Engines = []string{"postgres", "aurora-postgresql"}

// Environment variables read by ConfigFromEnv (besides the password policy's,
// see password.FromEnv). The TLS and connect-timeout settings are the ones
// every database rotator reads (package rotators parses them).
const (
	// EnvCABundle names a PEM file of extra CA certificates trusted for TLS
	// (e.g. the RDS global bundle), in addition to the system roots.
	EnvCABundle = rotators.EnvCABundle
	// EnvConnectTimeout bounds each connection attempt: a Go duration ("5s",
	// "1500ms") or whole seconds ("5"). Default 5s.
	EnvConnectTimeout = rotators.EnvConnectTimeout
	// EnvStatementTimeout is the server-side statement_timeout of every
	// session, and (plus StatementSlack) the client-side bound on every
	// statement. Same syntax as EnvConnectTimeout. Default 10s.
	EnvStatementTimeout = "ROTARY_STATEMENT_TIMEOUT"
	// EnvLockTimeout is the server-side lock_timeout of every session. Same
	// syntax as EnvConnectTimeout. Default 3s.
	EnvLockTimeout = "ROTARY_LOCK_TIMEOUT"
)

// Defaults, as in AWS's templates.
const (
	DefaultConnectTimeout   = 5 * time.Second
	DefaultStatementTimeout = 10 * time.Second
	DefaultLockTimeout      = 3 * time.Second
	// StatementSlack is added to the statement timeout for the client-side
	// bound on a statement: the server gets the first chance to cancel it
	// cleanly; a server that does not answer is cut off by the client.
	StatementSlack = 2 * time.Second
	DefaultPort    = 5432
	DefaultDBName  = "postgres"
	// MaxNameLen is PostgreSQL's limit for role names, in bytes (NAMEDATALEN-1).
	// Longer names are truncated by the server, which could select another
	// role, so they are refused.
	MaxNameLen = 63
	// CloneSuffix is appended to a user name for its alternate, as AWS does.
	CloneSuffix = "_clone"
)

// Config configures the rotators. The zero value works: default password
// policy, 5 s connect timeout, 10 s statement and 3 s lock timeouts, system CA
// roots, and no resolver (master secrets must then name their host).
type Config struct {
	// Policy is the password policy for new passwords. Zero value:
	// password.Default(password.PostgresExclude).
	Policy password.Policy
	// ConnectTimeout bounds each connection attempt. Zero: DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// StatementTimeout is every session's statement_timeout; each statement
	// is also bounded on the client by StatementTimeout + StatementSlack (and
	// by the step's context). Zero: DefaultStatementTimeout.
	StatementTimeout time.Duration
	// LockTimeout is every session's lock_timeout. Zero: DefaultLockTimeout.
	LockTimeout time.Duration
	// CABundleFile is a PEM file of CA certificates trusted in addition to the
	// system roots. Empty: system roots only.
	CABundleFile string
	// Endpoints resolves the endpoint of the database an RDS-managed master
	// secret (username and password only) belongs to; the master password is
	// sent only there, and MultiUser refuses a user secret whose host is not
	// that endpoint. When nil (or when it finds no endpoint), a master secret
	// without a host is refused.
	Endpoints EndpointResolver
	// ApplicationName is sent as application_name. Default "rotary".
	ApplicationName string
}

// ConfigFromEnv reads a Config from the environment through getenv (os.Getenv
// in production). Errors name the variable, and a bad setting fails here, at
// start-up; the system roots are not loaded until the first TLS connection.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	p, err := password.FromEnv(getenv, password.PostgresExclude)
	if err != nil {
		return cfg, err
	}
	cfg.Policy = p
	for _, v := range []struct {
		env string
		dst *time.Duration
	}{
		{EnvConnectTimeout, &cfg.ConnectTimeout},
		{EnvStatementTimeout, &cfg.StatementTimeout},
		{EnvLockTimeout, &cfg.LockTimeout},
	} {
		if *v.dst, err = rotators.TimeoutFromEnv(getenv, v.env, 0); err != nil {
			return cfg, fmt.Errorf("postgres: %w", err)
		}
	}
	if cfg.CABundleFile, err = rotators.CABundleFileFromEnv(getenv); err != nil {
		return cfg, fmt.Errorf("postgres: %w", err)
	}
	return cfg, nil
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Policy == (password.Policy{}) {
		c.Policy = password.Default(password.PostgresExclude)
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.StatementTimeout <= 0 {
		c.StatementTimeout = DefaultStatementTimeout
	}
	if c.LockTimeout <= 0 {
		c.LockTimeout = DefaultLockTimeout
	}
	if c.ApplicationName == "" {
		c.ApplicationName = "rotary"
	}
	return c
}
