package postgres

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rotary-secrets/rotary/shared/password"
)

// Engines are the secret engine values these rotators handle, for
// rotators.Registry.Register.
var Engines = []string{"postgres", "aurora-postgresql"}

// Environment variables read by ConfigFromEnv (besides the password policy's,
// see password.FromEnv).
const (
	// EnvCABundle names a PEM file of extra CA certificates trusted for TLS
	// (e.g. the RDS global bundle), in addition to the system roots.
	EnvCABundle = "ROTARY_CA_BUNDLE"
	// EnvConnectTimeout bounds each connection attempt: a Go duration ("5s",
	// "1500ms") or whole seconds ("5"). Default 5s.
	EnvConnectTimeout = "ROTARY_CONNECT_TIMEOUT"
)

// Defaults, as in AWS's templates.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultPort           = 5432
	DefaultDBName         = "postgres"
	// MaxNameLen is PostgreSQL's limit for role names, in bytes (NAMEDATALEN-1).
	// Longer names are truncated by the server, which could select another
	// role, so they are refused.
	MaxNameLen = 63
	// CloneSuffix is appended to a user name for its alternate, as AWS does.
	CloneSuffix = "_clone"
)

// Config configures the rotators. The zero value works: default password
// policy, 5 s connect timeout, system CA roots.
type Config struct {
	// Policy is the password policy for new passwords. Zero value:
	// password.Default(password.PostgresExclude).
	Policy password.Policy
	// ConnectTimeout bounds each connection attempt. Zero: DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// CABundleFile is a PEM file of CA certificates trusted in addition to the
	// system roots. Empty: system roots only.
	CABundleFile string
	// Endpoints, when set, resolves the endpoint of the database an RDS-managed
	// master secret (username and password only) belongs to; MultiUser then
	// refuses a user secret whose host is not that endpoint. When nil, such a
	// master secret is used with the user secret's host and port.
	Endpoints EndpointResolver
	// ApplicationName is sent as application_name. Default "rotary".
	ApplicationName string
}

// ConfigFromEnv reads a Config from the environment through getenv (os.Getenv
// in production). Errors name the variable, and a bad setting fails here, at
// start-up.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	p, err := password.FromEnv(getenv, password.PostgresExclude)
	if err != nil {
		return cfg, err
	}
	cfg.Policy = p
	cfg.CABundleFile = strings.TrimSpace(getenv(EnvCABundle))
	if s := strings.TrimSpace(getenv(EnvConnectTimeout)); s != "" {
		d, err := parseTimeout(s)
		if err != nil {
			return cfg, fmt.Errorf("postgres: %s: %w", EnvConnectTimeout, err)
		}
		cfg.ConnectTimeout = d
	}
	if _, err := cfg.roots(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			return 0, errors.New(`must be a duration such as "5s" or a whole number of seconds`)
		}
		if n < 1 || n > 600 {
			return 0, errors.New("must be more than 0 and at most 10m")
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 || d > 10*time.Minute {
		return 0, errors.New("must be more than 0 and at most 10m")
	}
	return d, nil
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Policy == (password.Policy{}) {
		c.Policy = password.Default(password.PostgresExclude)
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ApplicationName == "" {
		c.ApplicationName = "rotary"
	}
	return c
}

// roots returns the system roots plus the CA bundle.
func (c Config) roots() (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if c.CABundleFile == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(c.CABundleFile)
	if err != nil {
		return nil, fmt.Errorf("postgres: read CA bundle (%s): %w", EnvCABundle, err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("postgres: CA bundle %s (%s) holds no PEM certificate", c.CABundleFile, EnvCABundle)
	}
	return pool, nil
}
