package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/dbrotator"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// Sentinel errors callers (and tests) branch on with errors.Is. All but
// ErrCloneMismatch are package dbrotator's, shared with the MySQL rotators.
var (
	// ErrTLS: the TLS handshake failed or the server refused TLS. No plaintext
	// attempt follows.
	ErrTLS = dbrotator.ErrTLS
	// ErrAuth: the server refused the user name and password (SQLSTATE 28P01).
	ErrAuth = dbrotator.ErrAuth
	// ErrGuard: a safety check refused to change a role (the pending user is
	// not the current user or its alternate, another host, a superuser, …).
	ErrGuard = dbrotator.ErrGuard
	// ErrNoCredential: none of the secret's versions logs in, so the password
	// cannot be changed.
	ErrNoCredential = dbrotator.ErrNoCredential
	// ErrEndpointMismatch: the user secret names another server than the one
	// the master credential belongs to (the master secret's own host and
	// port, or the endpoint RDS gives for an RDS-managed master), so the
	// master credential is not sent anywhere.
	ErrEndpointMismatch = dbrotator.ErrEndpointMismatch
	// ErrMasterEndpoint: the master secret names no host and no endpoint
	// could be resolved for it (not RDS-managed, or no resolver), so there is
	// no server the master credential may be sent to.
	ErrMasterEndpoint = dbrotator.ErrMasterEndpoint
	// ErrInsecureAuth: the server asked for the password in cleartext or as
	// an md5 hash over a connection that is not verified TLS; nothing was
	// sent.
	ErrInsecureAuth = dbrotator.ErrInsecureAuth
	// ErrCloneMismatch: an existing "_clone" role is not exactly a clone of
	// the original (see MultiUser), so it is left untouched rather than given
	// a password and the original's privileges.
	ErrCloneMismatch = errors.New("the existing clone role is not a clone of the original")
)

// Stats counts the connection attempts a rotator made (every attempt is a
// login; a failed one did not end in an authenticated session) and the
// password changes retried after a transient conflict.
type Stats = dbrotator.Stats

// connector opens connections and counts them.
type connector struct {
	cfg      Config
	roots    func() (*x509.CertPool, error) // the system roots plus the CA bundle, loaded on first use
	counters dbrotator.Counters
}

// Stats returns the login and retry counters since the rotator was made.
func (c *connector) Stats() Stats { return c.counters.Stats() }

func newConnector(cfg Config) (*connector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := rotators.CheckCABundle(cfg.CABundleFile); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &connector{cfg: cfg, roots: rotators.LazyRoots(cfg.CABundleFile)}, nil
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

// connConfig is the connection's settings: the endpoint and user, the
// timeouts, no fallback, no downgrade of the password exchange, and TLS
// verify-full unless the endpoint is plaintext.
func (c *connector) connConfig(ep endpoint, user, password string) (*pgx.ConnConfig, error) {
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
	cfg.RuntimeParams = map[string]string{
		"application_name":  c.cfg.ApplicationName,
		"statement_timeout": strconv.FormatInt(c.cfg.StatementTimeout.Milliseconds(), 10),
		"lock_timeout":      strconv.FormatInt(c.cfg.LockTimeout.Milliseconds(), 10),
	}
	// No downgrade: a password (cleartext) or md5 request is answered only
	// over verified TLS (the only TLS this package makes: verify-full against
	// ep.host). Elsewhere only SCRAM (which proves knowledge of the password
	// without sending it) or no authentication at all is accepted; pgconn
	// checks this before it writes anything.
	cfg.RequireAuth = "!password,!md5"
	if ep.tls {
		cfg.RequireAuth = ""
	}
	cfg.ValidateConnect = nil
	cfg.AfterConnect = nil
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec // no prepared-statement cache (poolers)
	cfg.TLSConfig = nil
	cfg.KerberosSrvName, cfg.KerberosSpn = "", ""
	if ep.tls {
		roots, err := c.roots()
		if err != nil {
			return nil, err
		}
		cfg.TLSConfig = &tls.Config{RootCAs: roots, ServerName: ep.host, MinVersion: tls.VersionTLS12}
		cfg.SSLNegotiation = "postgres"
	}
	return cfg, nil
}

// connect logs in as user. Every call counts as a login. The error wraps
// ErrAuth for a refused password and ErrTLS for a TLS failure; it never holds
// the password.
func (c *connector) connect(ctx context.Context, ep endpoint, user, password string) (*pgx.Conn, error) {
	cfg, err := c.connConfig(ep, user, password)
	if err != nil {
		return nil, err
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

	conn, err := pgx.ConnectConfig(ctx, cfg)
	if c.counters.Login(err) == nil {
		return conn, nil
	}
	return nil, classify(err, ep, user, dialed.Load() && !handshaken.Load() && ep.tls)
}

// classify turns a connection error into one that says what went wrong, names
// the endpoint and user, and wraps ErrAuth or ErrTLS when it applies.
func classify(err error, ep endpoint, user string, tlsFailed bool) error {
	var pgErr *pgconn.PgError
	switch {
	case strings.Contains(err.Error(), "require_auth"):
		// pgconn's RequireAuth refusal has no type of its own.
		return fmt.Errorf("connect to %s as %q: %w: leave \"ssl\" unset or true, and make the server offer scram-sha-256", ep, user, ErrInsecureAuth)
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

// bound returns ctx limited to one statement's client-side bound (the
// server's statement_timeout plus StatementSlack), so a server that stops
// answering cannot hold the step beyond it.
func (c *connector) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.StatementTimeout+StatementSlack)
}

// execSimple runs one statement with the simple query protocol (no
// parameters, so DDL works; the statement runs even if the answer is lost),
// within the statement bound.
func (c *connector) execSimple(ctx context.Context, conn *pgx.Conn, sql string) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	_, err := conn.PgConn().Exec(ctx, sql).ReadAll()
	return c.noAnswer(err)
}

// noAnswer says what a deadline error during a statement means.
func (c *connector) noAnswer(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (the server did not answer within the statement bound, %s = %s plus %s, or the step's deadline came first)",
			err, EnvStatementTimeout, c.cfg.StatementTimeout, StatementSlack)
	}
	return err
}

// Retries of transient conflicts at the server (see retryable).
const (
	maxAttempts  = 5
	firstBackoff = 50 * time.Millisecond
	maxBackoff   = time.Second
)

// retryable reports a server error that a second try of the same change can
// get past: a concurrent update of the role's catalog row (an earlier,
// interrupted try still committing: "tuple concurrently updated", SQLSTATE
// XX000), a serialization failure (40001), a deadlock (40P01) or a lock wait
// that hit lock_timeout (55P03).
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "40001", "40P01", "55P03":
		return true
	case "XX000":
		// XX000 (internal_error) covers much else; this message is the one
		// the catalog update raises.
		return strings.Contains(pgErr.Message, "tuple concurrently updated")
	}
	return false
}

// withRetry runs fn, and again after a growing, jittered pause while it fails
// with a retryable error, at most maxAttempts times and never past ctx. Each
// retry is counted in counters (when not nil).
func withRetry(ctx context.Context, counters *dbrotator.Counters, fn func(context.Context) error) error {
	delay := firstBackoff
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !retryable(err) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		pause := delay/2 + time.Duration(rand.Int64N(int64(delay/2)+1))
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (no retry: %w)", err, context.Cause(ctx))
		case <-t.C:
		}
		if counters != nil {
			counters.Retry()
		}
		delay = min(2*delay, maxBackoff)
	}
}

// scrub removes every secret value of values, and each of extra (a
// verifier), from err's text (dbrotator.Scrub: whole, escaped, or cut).
func scrub(err error, extra []string, values ...secret.Value) error {
	if err == nil {
		return nil
	}
	secrets := slices.Clone(extra)
	for _, v := range values {
		secrets = append(secrets, v.Secrets()...)
	}
	return dbrotator.Scrub(err, secrets...)
}
