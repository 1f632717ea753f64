package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// Sentinel errors callers (and tests) branch on with errors.Is.
var (
	// ErrTLS: the TLS handshake failed or the server refused TLS. No plaintext
	// attempt follows.
	ErrTLS = errors.New("TLS verify-full failed")
	// ErrAuth: the server refused the user name and password (SQLSTATE 28P01).
	ErrAuth = errors.New("password authentication failed")
	// ErrGuard: a safety check refused to change a role (the pending user is
	// not the current user or its alternate, another host, a superuser, …).
	ErrGuard = errors.New("refused by a safety check")
	// ErrNoCredential: none of the secret's versions logs in, so the password
	// cannot be changed.
	ErrNoCredential = errors.New("no stored version of the secret logs in")
)

// Stats counts the connection attempts a rotator made: every attempt is a
// login; a failed one is one that did not end in an authenticated session
// (wrong password, TLS or network failure).
type Stats struct {
	Logins       int64 // connection attempts
	FailedLogins int64 // attempts that did not end in a session
}

// connector opens connections and counts them.
type connector struct {
	cfg    Config
	roots  *x509.CertPool
	logins atomic.Int64
	failed atomic.Int64
}

func newConnector(cfg Config) (*connector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	roots, err := cfg.roots()
	if err != nil {
		return nil, err
	}
	return &connector{cfg: cfg, roots: roots}, nil
}

// Stats returns the login counters since the rotator was made.
func (c *connector) Stats() Stats {
	return Stats{Logins: c.logins.Load(), FailedLogins: c.failed.Load()}
}

// endpoint is where and how to connect, from a secret.
type endpoint struct {
	host string
	port int
	db   string
	tls  bool
}

func (e endpoint) String() string {
	mode := "TLS verify-full"
	if !e.tls {
		mode = "plaintext"
	}
	return fmt.Sprintf("%s (%s)", net.JoinHostPort(e.host, strconv.Itoa(e.port)), mode)
}

// sameServer reports whether two endpoints name the same server.
func (e endpoint) sameServer(o endpoint) bool {
	return strings.EqualFold(e.host, o.host) && e.port == o.port
}

// endpointOf reads the connection keys of a checked secret.
func endpointOf(v secret.Value) endpoint {
	e := endpoint{host: v.Host, port: v.Port, db: v.DBName, tls: true}
	if e.port == 0 {
		e.port = DefaultPort
	}
	if e.db == "" {
		e.db = DefaultDBName
	}
	if v.SSL != nil && !*v.SSL {
		e.tls = false
	}
	return e
}

// connect logs in as user. Every call counts as a login. The error wraps
// ErrAuth for a refused password and ErrTLS for a TLS failure; it never holds
// the password.
func (c *connector) connect(ctx context.Context, ep endpoint, user, password string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		// Only the environment (PG* variables) can make an empty string fail.
		return nil, fmt.Errorf("build connection settings (check PG* environment variables): %w", err)
	}
	cfg.Host = ep.host
	cfg.Port = uint16(ep.port)
	cfg.Database = ep.db
	cfg.User = user
	cfg.Password = password
	cfg.ConnectTimeout = c.cfg.ConnectTimeout
	cfg.Fallbacks = nil // no second try, in particular never plaintext after TLS
	cfg.RuntimeParams = map[string]string{"application_name": c.cfg.ApplicationName}
	cfg.ValidateConnect = nil
	cfg.AfterConnect = nil
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec // no prepared-statement cache (poolers)
	cfg.TLSConfig = nil
	if ep.tls {
		cfg.TLSConfig = &tls.Config{RootCAs: c.roots, ServerName: ep.host, MinVersion: tls.VersionTLS12}
		cfg.SSLNegotiation = "postgres"
	}
	// Tell a TLS failure from the rest: the dial succeeded but the connection
	// never got past the TLS request and handshake.
	var dialed, handshaken atomic.Bool
	dialer := &net.Dialer{KeepAlive: 5 * time.Minute}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			dialed.Store(true)
		}
		return conn, err
	}
	cfg.AfterNetConnect = func(ctx context.Context, _ *pgconn.Config, conn net.Conn) (net.Conn, error) {
		// crypto/tls would shake hands on the first write; do it now so a
		// certificate problem is told apart from what follows.
		if tc, ok := conn.(*tls.Conn); ok {
			if err := tc.HandshakeContext(ctx); err != nil {
				return conn, err // pgx closes the conn it gets back
			}
		}
		handshaken.Store(true)
		return conn, nil
	}

	c.logins.Add(1)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn, nil
	}
	c.failed.Add(1)
	return nil, classify(err, ep, user, dialed.Load() && !handshaken.Load() && ep.tls)
}

// classify turns a connection error into one that says what went wrong, names
// the endpoint and user, and wraps ErrAuth or ErrTLS when it applies.
func classify(err error, ep endpoint, user string, tlsFailed bool) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "28P01":
		return fmt.Errorf("connect to %s as %q: %w (SQLSTATE 28P01)", ep, user, ErrAuth)
	case tlsFailed:
		return fmt.Errorf("connect to %s as %q: %w: %s; no plaintext attempt was made (trust a private CA with %s, or set \"ssl\": false in the secret to allow plaintext): %w",
			ep, user, ErrTLS, tlsReason(err, ep.host), EnvCABundle, err)
	}
	return fmt.Errorf("connect to %s as %q: %w", ep, user, err)
}

// tlsReason names the TLS failure in words an operator can act on.
func tlsReason(err error, host string) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknown):
		return "the server certificate is signed by an unknown authority"
	case errors.As(err, &hostname):
		return fmt.Sprintf("the server certificate is not valid for host %q", host)
	case errors.As(err, &invalid):
		return "the server certificate is invalid (expired or not for server use)"
	case strings.Contains(err.Error(), "refused TLS"):
		return "the server does not accept TLS"
	}
	return "the TLS handshake failed"
}

// closeQuietly closes a connection with a short deadline of its own, so a
// cancelled step still says goodbye to the server.
func closeQuietly(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// execSimple runs one statement with the simple query protocol (no
// parameters, so DDL works; the statement runs even if the answer is lost).
func execSimple(ctx context.Context, conn *pgx.Conn, sql string) error {
	_, err := conn.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

// redacted carries an error whose text had secret values removed. errors.Is
// and errors.As still see the original chain.
type redacted struct {
	msg  string
	orig error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.orig }

// scrub replaces every secret value and verifier in err's text.
func scrub(err error, extra []string, values ...secret.Value) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var secrets []string
	for _, v := range values {
		secrets = append(secrets, v.Secrets()...)
	}
	secrets = append(secrets, extra...)
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &redacted{msg: msg, orig: err}
}
