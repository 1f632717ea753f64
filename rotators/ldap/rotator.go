package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/rotary-secrets/rotary/shared/ascii"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// Engine is the engine key this package rotates.
const Engine = "ldap"

// Engines are the engine key values the package rotates.
var Engines = []string{Engine}

// KeyTLSMode is the secret key choosing how TLS starts: "ldaps" (the
// default, port 636) or "starttls" (port 389). Both verify the server's
// certificate and name; there is no plaintext mode.
const KeyTLSMode = "tlsMode"

// TLS modes, the values of KeyTLSMode.
const (
	TLSModeLDAPS    = "ldaps"
	TLSModeStartTLS = "starttls"
)

// Settings read by Build.
const (
	// EnvCABundle names a PEM file of CA certificates trusted in addition to
	// the system roots.
	EnvCABundle = rotators.EnvCABundle
	// EnvConnectTimeout bounds each connection and operation (Go duration
	// or whole seconds, default 5s); the step's deadline bounds it too.
	EnvConnectTimeout = rotators.EnvConnectTimeout
)

// Sentinels callers branch on.
var (
	// ErrPlaintext is returned for a secret that asks for a connection
	// without TLS ("ssl": false) or an unknown tlsMode.
	ErrPlaintext = errors.New("ldap: only verified TLS (LDAPS or StartTLS) is supported")
	// ErrNotSameUser is returned when the pending value names another DN,
	// host or port than the current one.
	ErrNotSameUser = errors.New("ldap: the pending value names another user or server than the current one")
	// ErrRejected is returned when the server refuses a bind (invalid
	// credentials).
	ErrRejected = errors.New("ldap: the server refused the credentials")
	// ErrAdminUnsupported is returned for a secret that asks for the
	// single-user strategy and names a master credential (masterarn): a
	// rotation as the user itself would not be what the master is there for.
	ErrAdminUnsupported = errors.New(`ldap: a single-user secret names masterarn; remove "rotationStrategy": "single-user" to rotate with the master (admin-password), or remove masterarn to rotate as the user itself`)
	// ErrWrongIdentity is returned when the server says a bind was made as
	// another identity than the secret's DN.
	ErrWrongIdentity = errors.New("ldap: the bind identity is not the secret's DN")
)

// Config is what a Rotator needs besides the secret.
type Config struct {
	Policy       password.Policy
	RootCAs      *x509.CertPool // nil means the system roots plus CABundleFile's certificates, loaded on first use
	CABundleFile string         // PEM CA certificates trusted besides the system roots when RootCAs is nil
	Timeout      time.Duration  // per connection and operation; 0 means 5s
}

// Stats counts binds.
type Stats struct {
	Logins       int64 // bind attempts (and connection attempts that failed before one)
	FailedLogins int64 // attempts that did not end bound
}

// Rotator is an LDAP rotator: single-user (NewSingleUser) or admin-driven
// (NewAdmin).
type Rotator struct {
	cfg            Config
	roots          func() (*x509.CertPool, error) // cfg.RootCAs, or loaded on the first TLS connection
	admin          bool
	logins, failed atomic.Int64
}

var _ rotators.Rotator = (*Rotator)(nil)

// NewSingleUser returns the single-user rotator.
func NewSingleUser(cfg Config) *Rotator {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &Rotator{cfg: cfg, roots: rotators.RootsOf(cfg.RootCAs, cfg.CABundleFile)}
}

// Stats returns the bind counters so far.
func (r *Rotator) Stats() Stats { return Stats{Logins: r.logins.Load(), FailedLogins: r.failed.Load()} }

// ConfigFromEnv reads the password policy of AWS's template variables, the
// CA bundle and the connect timeout through getenv.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	p, err := password.FromEnv(getenv, "")
	if err != nil {
		return cfg, err
	}
	cfg.Policy = p
	if cfg.Timeout, err = rotators.ConnectTimeoutFromEnv(getenv, 0); err != nil {
		return cfg, fmt.Errorf("ldap config: %w", err)
	}
	if cfg.CABundleFile, err = rotators.CABundleFileFromEnv(getenv); err != nil {
		return cfg, fmt.Errorf("ldap config: %w", err)
	}
	return cfg, nil
}

// Build registers the rotators for strategies (single-user and
// admin-password when none is given), configured through deps.Getenv.
func Build(reg *rotators.Registry, deps rotators.Deps, strategies ...string) error {
	if len(strategies) == 0 {
		strategies = []string{rotators.SingleUser, AdminPassword}
	}
	for _, s := range strategies {
		if s != rotators.SingleUser && s != AdminPassword {
			return fmt.Errorf("ldap: unknown rotation strategy %q (have %s, %s)", s, rotators.SingleUser, AdminPassword)
		}
	}
	cfg, err := ConfigFromEnv(deps.Env)
	if err != nil {
		return err
	}
	// A secret with masterarn and no rotationStrategy is admin-driven, as
	// AWS's templates route a master secret.
	reg.MasterStrategy(AdminPassword, Engines...)
	for _, s := range strategies {
		if s == AdminPassword {
			reg.Register(NewAdmin(cfg), AdminPassword, Engines...)
		} else {
			reg.Register(NewSingleUser(cfg), rotators.SingleUser, Engines...)
		}
	}
	return nil
}

// target is a checked secret: where to connect and as whom.
type target struct {
	host    string
	port    int
	tlsMode string
	dn      string
}

// validHost reports whether s is a host name (1 to 253 ASCII letters, digits,
// dots and hyphens, starting and ending with a letter or digit) or an IPv6
// literal's hex digits and colons. A loop, not a counted-repetition regexp:
// see package shared/ascii.
func validHost(s string) bool {
	if ascii.Chars(s, 1, 253, ".-") && ascii.IsAlnum(s[0]) && ascii.IsAlnum(s[len(s)-1]) {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':') {
			return false
		}
	}
	return s != ""
}

// parseTarget checks v's connection keys and DN; it changes nothing and
// connects nowhere.
func parseTarget(v secret.Value, allowMaster bool) (target, error) {
	if err := v.Require(secret.KeyHost, secret.KeyUsername, secret.KeyPassword); err != nil {
		return target{}, err
	}
	if v.MasterARN != "" && !allowMaster {
		return target{}, ErrAdminUnsupported
	}
	if !validHost(v.Host) {
		return target{}, &secret.KeyError{Key: secret.KeyHost, Problem: "is not a host name or IP address"}
	}
	if v.SSL != nil && !*v.SSL {
		return target{}, fmt.Errorf("%w: the secret's ssl key is false", ErrPlaintext)
	}
	t := target{host: v.Host, port: v.Port, tlsMode: TLSModeLDAPS}
	if raw, ok := v.Extra[KeyTLSMode]; ok {
		var m string
		if json.Unmarshal(raw, &m) != nil {
			return target{}, fmt.Errorf("%w: %s must be %q or %q", ErrPlaintext, KeyTLSMode, TLSModeLDAPS, TLSModeStartTLS)
		}
		switch strings.ToLower(m) {
		case TLSModeLDAPS, "":
		case TLSModeStartTLS:
			t.tlsMode = TLSModeStartTLS
		default:
			return target{}, fmt.Errorf("%w: %s must be %q or %q", ErrPlaintext, KeyTLSMode, TLSModeLDAPS, TLSModeStartTLS)
		}
	}
	if t.port == 0 {
		t.port = 636
		if t.tlsMode == TLSModeStartTLS {
			t.port = 389
		}
	}
	if t.port < 1 || t.port > 65535 {
		return target{}, &secret.KeyError{Key: secret.KeyPort, Problem: "is not a TCP port"}
	}
	dn, err := CanonicalDN(v.Username)
	if err != nil {
		return target{}, fmt.Errorf("username: %w", err)
	}
	t.dn = dn
	return t, nil
}

// Create returns the current value with a new password. It connects nowhere
// and changes nothing, so it is safe to call twice.
func (r *Rotator) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	if _, err := parseTarget(req.Current, r.admin); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	if r.admin && req.Current.MasterARN == "" {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", ErrNoMaster)
	}
	pw, err := req.Passwords.Generate(ctx, r.cfg.Policy)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: generate password: %w", err)
	}
	pending := req.Current.Clone()
	pending.Password = pw
	return rotators.CreateResponse{Pending: pending}, nil
}

// Set binds as the current credential and changes the user's own password
// with Password Modify (old and new password, no user identity: the bound
// user). When the server refuses the current password it binds as the
// pending one: if that works the change was already made (a retried
// setSecret) and Set succeeds. Safe to call twice.
func (r *Rotator) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	cur, err := parseTarget(req.Current, r.admin)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: current value: %w", err)
	}
	pend, err := parseTarget(req.Pending, r.admin)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: pending value: %w", err)
	}
	if !sameDN(cur.dn, pend.dn) || !strings.EqualFold(cur.host, pend.host) || cur.port != pend.port || cur.tlsMode != pend.tlsMode {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", ErrNotSameUser)
	}
	if r.admin {
		return rotators.SetResponse{}, r.setAsAdmin(ctx, req, cur)
	}
	c, err := r.bind(ctx, cur, req.Current.Password)
	if err != nil {
		if !errors.Is(err, ErrRejected) {
			return rotators.SetResponse{}, fmt.Errorf("setSecret: bind as current: %w", err)
		}
		// A retried setSecret: the password may already be the pending one.
		pc, perr := r.bind(ctx, pend, req.Pending.Password)
		if perr != nil {
			return rotators.SetResponse{}, fmt.Errorf("setSecret: neither the current nor the pending password binds: %w", err)
		}
		_ = pc.Close()
		return rotators.SetResponse{}, nil
	}
	defer c.Close()
	if _, err := c.PasswordModify(goldap.NewPasswordModifyRequest("", req.Current.Password, req.Pending.Password)); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: password modify for %s: %w", cur.dn, ldapErr(ctx, err))
	}
	return rotators.SetResponse{}, nil
}

// Test binds as the pending credential and checks with Who Am I? that the
// server bound that DN. It changes nothing.
func (r *Rotator) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	t, err := parseTarget(req.Pending, r.admin)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w", err)
	}
	c, err := r.bind(ctx, t, req.Pending.Password)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: bind as pending: %w", err)
	}
	defer c.Close()
	who, err := c.WhoAmI(nil)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: who am i: %w", ldapErr(ctx, err))
	}
	authz, ok := strings.CutPrefix(who.AuthzID, "dn:")
	if !ok || !sameDN(authz, t.dn) {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w", ErrWrongIdentity)
	}
	return rotators.TestResponse{}, nil
}

// bind opens a verified TLS connection to t and binds as its DN. An error
// wraps ErrRejected when the server refused the credentials. The connection
// is closed when ctx ends.
func (r *Rotator) bind(ctx context.Context, t target, pw string) (*goldap.Conn, error) {
	r.logins.Add(1)
	c, err := r.dial(ctx, t)
	if err == nil {
		if pw == "" {
			err = errors.New("empty password (an unauthenticated bind is refused)")
		} else if err = c.Bind(t.dn, pw); err != nil {
			err = ldapErr(ctx, err)
		}
		if err != nil {
			_ = c.Close()
		}
	}
	if err != nil {
		r.failed.Add(1)
		return nil, fmt.Errorf("bind as %s on %s: %w", t.dn, net.JoinHostPort(t.host, strconv.Itoa(t.port)), err)
	}
	return c, nil
}

func (r *Rotator) dial(ctx context.Context, t target) (*goldap.Conn, error) {
	timeout := r.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, ctx.Err()
		}
		timeout = min(timeout, left)
	}
	addr := net.JoinHostPort(t.host, strconv.Itoa(t.port))
	roots, err := r.roots()
	if err != nil {
		return nil, fmt.Errorf("CA roots: %w", err)
	}
	tc := &tls.Config{RootCAs: roots, ServerName: t.host, MinVersion: tls.VersionTLS12}
	d := &net.Dialer{Timeout: timeout}
	var c *goldap.Conn
	if t.tlsMode == TLSModeStartTLS {
		c, err = goldap.DialURL("ldap://"+addr, goldap.DialWithDialer(d))
		if err == nil {
			c.SetTimeout(timeout)
			if err = c.StartTLS(tc); err != nil {
				_ = c.Close()
				return nil, fmt.Errorf("starttls (no plaintext fallback): %w", err)
			}
		}
	} else {
		c, err = goldap.DialURL("ldaps://"+addr, goldap.DialWithDialer(d), goldap.DialWithTLSConfig(tc))
	}
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c.SetTimeout(timeout)
	context.AfterFunc(ctx, func() { _ = c.Close() })
	return c, nil
}

// ldapErr wraps ErrRejected around an invalid-credentials result and
// prefers ctx's error when the step's deadline closed the connection.
func ldapErr(ctx context.Context, err error) error {
	if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}
