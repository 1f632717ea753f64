package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/dbrotator"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// DefaultPort is used when a secret has no port.
const DefaultPort = 3306

// endpoint is where and how to connect; none of it is secret.
type endpoint struct {
	host   string
	port   int
	dbName string
	tls    bool
}

// String names the endpoint in errors: host:port and whether it uses TLS.
func (e endpoint) String() string {
	mode := "TLS verify-full"
	if !e.tls {
		mode = "plaintext"
	}
	return fmt.Sprintf("%s (%s)", net.JoinHostPort(e.host, strconv.Itoa(e.port)), mode)
}

// endpointOf reads host, port, dbname and ssl from v. ssl absent or true means
// verified TLS; only "ssl": false means plaintext.
func endpointOf(v secret.Value) (endpoint, error) {
	if err := v.Require(secret.KeyHost); err != nil {
		return endpoint{}, err
	}
	e := endpoint{host: v.Host, port: v.Port, dbName: v.DBName, tls: v.SSL == nil || *v.SSL}
	if e.port == 0 {
		e.port = DefaultPort
	}
	if err := dbrotator.CheckHost(e.host); err != nil {
		return endpoint{}, err
	}
	return e, nil
}

// session is one open connection with the server's flavour and version.
type session struct {
	db     *sql.DB
	conn   *sql.Conn
	srv    server
	user   string
	scrubs []string
	c      *dbrotator.Counters // the rotator's, for Stats().Retries
	// password is the one the session logged in with, set by loginChain for
	// MySQL's REPLACE clause. Never print it.
	password string
}

// connector opens sessions and counts them: what every strategy shares.
type connector struct {
	cfg      Config
	roots    func() (*x509.CertPool, error) // cfg.RootCAs, or the system roots plus the CA bundle, loaded on first use
	counters dbrotator.Counters
}

func newConnector(cfg Config) *connector {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	return &connector{cfg: cfg, roots: rotators.RootsOf(cfg.RootCAs, cfg.CABundleFile)}
}

// Stats returns the connection attempts and retries made so far.
func (c *connector) Stats() Stats { return c.counters.Stats() }

// EndpointResolver returns the resolver the rotator was built with, for
// start-up tests.
func (c *connector) EndpointResolver() EndpointResolver { return c.cfg.Endpoints }

// countingConnector counts every connection attempt.
type countingConnector struct {
	driver.Connector
	c *dbrotator.Counters
}

// Connect counts the attempt, and its failure, then connects.
func (cc countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := cc.Connector.Connect(ctx)
	return conn, cc.c.Login(err)
}

// connect logs in as user with pw and reads the server version. The error
// never holds pw (nor any of scrub); errors.Is(err, ErrAuth) tells a
// rejected password.
func (r *connector) connect(ctx context.Context, e endpoint, user, pw string, scrub ...string) (*session, error) {
	var refused atomic.Bool // set by authGuard when it cut the connection
	cfg, err := r.driverConfig(e, user, pw, &refused)
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure connection: %w", err)
	}
	db := sql.OpenDB(countingConnector{Connector: connector, c: &r.counters})
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	secrets := append([]string{pw}, scrub...)
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	conn, err := db.Conn(cctx)
	if errors.Is(err, mysql.ErrMalformPkt) {
		// go-sql-driver v1.10 drops the last byte of a MariaDB ed25519
		// challenge when it is 0 (1 login in 256 fails this way); a new
		// connection gets a new challenge.
		conn, err = db.Conn(cctx)
	}
	if err != nil {
		_ = db.Close()
		if refused.Load() || errors.Is(err, mysql.ErrCleartextPassword) || errors.Is(err, mysql.ErrOldPassword) {
			return nil, fmt.Errorf("%w: %w", ErrInsecureAuth, scrubErr(err, secrets))
		}
		return nil, scrubErr(classify(err, e), secrets)
	}
	s := &session{db: db, conn: conn, user: user, scrubs: secrets, c: &r.counters}
	if err := s.readVersion(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// driverConfig is the driver's settings for one login: the endpoint and
// user, timeouts, no plaintext fallback, and no password exchange that would
// reveal the password (verified TLS, or authGuard on a plaintext connection,
// which sets refused when it cuts one).
func (r *connector) driverConfig(e endpoint, user, pw string, refused *atomic.Bool) (*mysql.Config, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = user, pw
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(e.host, strconv.Itoa(e.port))
	cfg.DBName = e.dbName
	cfg.Timeout = r.cfg.ConnectTimeout
	cfg.ReadTimeout, cfg.WriteTimeout = 2*cfg.Timeout, 2*cfg.Timeout
	cfg.InterpolateParams = true
	cfg.AllowFallbackToPlaintext = false
	// The password leaves this process only in a form the peer cannot read,
	// unless the connection is verified TLS to the secret's own host (the
	// TLS config below always verifies): mysql_clear_password is answered
	// only then, the pre-4.1 scramble never, and on a plaintext connection
	// authGuard refuses the methods go-sql-driver would otherwise answer with
	// the password encrypted to a key the server itself supplies
	// (sha256_password, caching_sha2_password full authentication).
	cfg.AllowCleartextPasswords = e.tls
	cfg.AllowOldPasswords = false
	cfg.AllowNativePasswords = true
	cfg.Logger = mysql.Logger(discardLogger{})
	if e.tls {
		roots, err := r.roots()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTLS, err)
		}
		cfg.TLS = &tls.Config{RootCAs: roots, ServerName: e.host, MinVersion: tls.VersionTLS12}
		return cfg, nil
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &authGuard{Conn: c, refused: refused}, nil
	}
	return cfg, nil
}

// readVersion reads the server's flavour and version (SELECT VERSION()).
func (s *session) readVersion(ctx context.Context) error {
	var version string
	if err := s.conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return s.err("read server version", err)
	}
	srv, err := parseVersion(version)
	if err != nil {
		return err
	}
	s.srv = srv
	return nil
}

// The sentinels of a login, package dbrotator's (shared with the PostgreSQL
// rotators).
var (
	// ErrAuth is wrapped when the server rejects a user name or password
	// (MySQL error 1045).
	ErrAuth = dbrotator.ErrAuth
	// ErrInsecureAuth is wrapped when the server asked for the password in
	// a form the connection would reveal: mysql_clear_password without TLS,
	// the pre-4.1 scramble, or, without TLS, sha256_password or
	// caching_sha2_password full authentication (the password encrypted to
	// an RSA key the server itself sends, so any server or man in the middle
	// could read it). Nothing was sent.
	ErrInsecureAuth = dbrotator.ErrInsecureAuth
	// ErrTLS is wrapped when TLS could not be set up or the server's
	// certificate did not verify. There is never a fallback to plaintext.
	ErrTLS = dbrotator.ErrTLS
)

func classify(err error, e endpoint) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1045 {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) || errors.Is(err, mysql.ErrNoTLS) || e.tls && strings.Contains(err.Error(), "tls:") {
		return fmt.Errorf("%w (no plaintext attempt was made; trust a private CA with %s, or set \"ssl\": false in the secret to allow plaintext): %w", ErrTLS, EnvCABundle, err)
	}
	return err
}

func (s *session) close() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	_ = s.db.Close()
}

// exec runs st; op names it in errors. A transient server error (deadlock,
// lock wait timeout; see isTransient) is retried on the same connection with
// bounded, jittered backoff within ctx: the server rolled the statement back,
// and every statement this package sends may run again.
func (s *session) exec(ctx context.Context, op string, st statement) error {
	for attempt := 1; ; attempt++ {
		_, err := s.conn.ExecContext(ctx, st.query, st.args...)
		if err == nil {
			return nil
		}
		if !isTransient(err) || attempt >= maxAttempts || !wait(ctx, backoff(attempt)) {
			return fmt.Errorf("%s: %w", op, scrubErr(err, append(slices.Clip(s.scrubs), st.hidden...)))
		}
		if s.c != nil {
			s.c.Retry()
		}
	}
}

// maxAttempts bounds how often exec runs a statement that keeps failing
// with a transient error.
const maxAttempts = 5

// backoff is the wait before attempt+1: 100ms doubling to at most 2s, with
// up to 50% jitter so that concurrent rotations do not retry in step.
func backoff(attempt int) time.Duration {
	d := min(100*time.Millisecond<<(attempt-1), 2*time.Second)
	return d/2 + rand.N(d/2+1)
}

// wait sleeps for d unless ctx ends first; it reports whether it slept.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// isTransient reports whether err is a server error after which the same
// statement can simply run again: the server rolled it back because of
// another session's locks.
func isTransient(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1205, // ER_LOCK_WAIT_TIMEOUT
		1213, // ER_LOCK_DEADLOCK
		1637, // ER_TOO_MANY_CONCURRENT_TRXS
		1689: // ER_LOCK_ABORTED
		return true
	}
	return false
}

// lines runs a SHOW statement that returns one text column per row.
func (s *session) lines(ctx context.Context, op, query string) ([]string, error) {
	rows, err := s.conn.QueryContext(ctx, query)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, s.err(op, err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err(op, err)
	}
	return out, nil
}

// err wraps a driver error with op, scrubbed of every known secret value.
func (s *session) err(op string, err error) error {
	return fmt.Errorf("%s: %w", op, scrubErr(err, s.scrubs))
}

// scrubErr removes secrets from err's text (dbrotator.Scrub: whole,
// escaped, or cut, as servers truncate the SQL they quote).
func scrubErr(err error, secrets []string) error { return dbrotator.Scrub(err, secrets...) }

// authGuard watches the server's packets of a plaintext connection until
// authentication ends, and cuts the connection before the driver sees a
// request it would answer by revealing the password: an AuthSwitchRequest to
// any method but mysql_native_password, client_ed25519 or
// caching_sha2_password, or AuthMoreData other than caching_sha2_password's
// fast-authentication success (full authentication and RSA public keys).
type authGuard struct {
	net.Conn
	refused *atomic.Bool
	buf     []byte // bytes of a server packet not yet complete
	packets int
	done    bool
}

// maxAuthPacket bounds what authGuard buffers; authentication packets are
// small.
const maxAuthPacket = 1 << 16

// Read passes the server's bytes on once every complete packet among them is
// allowed.
func (g *authGuard) Read(p []byte) (int, error) {
	n, err := g.Conn.Read(p)
	if g.done || n == 0 {
		return n, err
	}
	g.buf = append(g.buf, p[:n]...)
	for !g.done && len(g.buf) >= 4 {
		size := int(g.buf[0]) | int(g.buf[1])<<8 | int(g.buf[2])<<16
		if len(g.buf) < 4+size {
			break
		}
		pkt := g.buf[4 : 4+size]
		if g.packets > 0 { // packet 0 is the server's greeting
			if !allowedAuthPacket(pkt) {
				g.refused.Store(true)
				_ = g.Conn.Close()
				return 0, ErrInsecureAuth
			}
			g.done = pkt[0] == 0x00 || pkt[0] == 0xff // OK or ERR ends authentication
		}
		g.packets++
		g.buf = g.buf[4+size:]
	}
	if g.done {
		g.buf = nil
	} else if len(g.buf) > maxAuthPacket {
		g.refused.Store(true)
		_ = g.Conn.Close()
		return 0, ErrInsecureAuth
	}
	return n, err
}

// allowedAuthPacket reports whether a server packet during authentication
// can be answered without revealing the password.
func allowedAuthPacket(pkt []byte) bool {
	if len(pkt) == 0 {
		return false
	}
	switch pkt[0] {
	case 0x00, 0xff: // OK, ERR
		return true
	case 0x01: // AuthMoreData: only caching_sha2_password's fast-auth success
		return len(pkt) == 2 && pkt[1] == 3
	case 0xfe: // AuthSwitchRequest
		plugin, _, ok := strings.Cut(string(pkt[1:]), "\x00")
		return ok && (plugin == pluginNative || plugin == "client_ed25519" || plugin == pluginCachingSHA2)
	}
	return false
}

// discardLogger silences the driver's own logging, which can print packets.
type discardLogger struct{}

// Print discards.
func (discardLogger) Print(...any) {}
