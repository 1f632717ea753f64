package redis

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// Rotator is the single-user-with-overlap rotator: the user holds the current
// and the pending password during a rotation, and the previous one until the
// next rotation's finishSecret.
type Rotator struct {
	cfg   Config
	roots func() (*x509.CertPool, error) // cfg.RootCAs, or loaded on the first TLS connection
	stats counters
}

var (
	_ rotators.Rotator  = (*Rotator)(nil)
	_ rotators.Finisher = (*Rotator)(nil)
)

// New returns a Rotator with cfg.
func New(cfg Config) *Rotator {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	return &Rotator{cfg: cfg, roots: rotators.RootsOf(cfg.RootCAs, cfg.CABundleFile)}
}

// Register adds the rotators for strategies (all of them when none is given)
// to reg under the redis engine: single user (with overlap) and alternating
// users.
func Register(reg *rotators.Registry, cfg Config, strategies ...string) error {
	if len(strategies) == 0 {
		strategies = []string{rotators.SingleUser, rotators.AlternatingUsers}
	}
	for _, s := range strategies {
		switch s {
		case rotators.SingleUser:
			reg.Register(New(cfg), rotators.SingleUser, Engines...)
		case rotators.AlternatingUsers:
			reg.Register(NewMultiUser(cfg), rotators.AlternatingUsers, Engines...)
		default:
			return fmt.Errorf("redis: unknown rotation strategy %q (have %s, %s)", s, rotators.SingleUser, rotators.AlternatingUsers)
		}
	}
	return nil
}

// Build is start-up's way in: it reads the settings through deps.Getenv and
// registers the rotators for strategies.
func Build(reg *rotators.Registry, deps rotators.Deps, strategies ...string) error {
	cfg, err := ConfigFromEnv(deps.Env)
	if err != nil {
		return err
	}
	return Register(reg, cfg, strategies...)
}

// Stats counts the logins a rotator made, for benchmarks and the conformance
// kit.
type Stats struct {
	Logins       int64 // every login attempt
	FailedLogins int64 // attempts that did not end in an authenticated connection
}

type counters struct{ logins, failed atomic.Int64 }

// Stats returns the rotator's login counters.
func (r *Rotator) Stats() Stats {
	return Stats{Logins: r.stats.logins.Load(), FailedLogins: r.stats.failed.Load()}
}

// Create returns the current value with a new password. It changes nothing on
// the server, so calling it twice is harmless.
func (r *Rotator) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	if _, err := target(req.Current); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	gen := req.Passwords
	if gen == nil {
		gen = password.Local{}
	}
	pw, err := gen.Generate(ctx, r.cfg.Passwords)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: generate password: %w", err)
	}
	pending := req.Current.Clone()
	pending.Password = pw
	// What finishSecret must remove travels with the pending value, so no
	// step reads the other versions on the happy path: the current password
	// is the one this version replaces, and the one the current version
	// replaced (AWSPREVIOUS's) is the one to retire.
	pending.Set(KeyReplacesSHA256, hashOf(req.Current.Password))
	if h, ok := recorded(req.Current, KeyReplacesSHA256); ok {
		pending.Set(KeyRetiresSHA256, h)
	} else {
		pending.Delete(KeyRetiresSHA256)
	}
	return rotators.CreateResponse{Pending: pending}, nil
}

// Set adds the pending password to the user, in its SHA-256 form, logged in
// as the user itself (current, else pending, else previous). Safe to call
// twice: a password the user already holds is not added again. ACL SAVE runs
// every time, so a retry after a failed save saves.
func (r *Rotator) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	ep, err := target(req.Current)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	if err := samePending(ep, req.Pending); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	if err := checkRecords(req.Current, req.Pending); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	// AWSPREVIOUS is read only when neither the current nor the pending
	// password logs in.
	c, err := r.loginAny(ctx, ep, known("current", req.Current), known("pending", req.Pending), candidate{"previous", req.Previous})
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	defer c.Close()
	held, err := passwordHashes(ctx, c, ep.user)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	h := hashOf(req.Pending.Password)
	if !slices.Contains(held, h) {
		if err := c.ACLSetUser(ctx, ep.user, "#"+h).Err(); err != nil {
			return rotators.SetResponse{}, fmt.Errorf("setSecret: ACL SETUSER %s (add pending password): %w", ep.user, clean(err))
		}
	}
	if err := save(ctx, c); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	return rotators.SetResponse{}, nil
}

// Test logs in with the pending value and checks it is the secret's user. It
// changes nothing.
func (r *Rotator) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	ep, err := target(req.Pending)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w", err)
	}
	c, err := r.login(ctx, ep, req.Pending.Password)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: log in with the pending password: %w", err)
	}
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: PING: %w", clean(err))
	}
	return rotators.TestResponse{}, nil
}

// Finish removes from the user the password that AWSPREVIOUS held before this
// rotation (it runs just before AWSCURRENT moves to the pending version), so
// the old current password keeps working as AWSPREVIOUS until the next
// rotation. It never removes the current or the pending password, and does
// nothing when the user no longer holds the previous one (a retry).
//
// The pending value names that password by its SHA-256 (KeyRetiresSHA256,
// written by Create), so the happy path reads no other version. When it does
// not (a secret's first rotation, a value written by hand) or the user does
// not hold that hash, Finish reads AWSPREVIOUS and AWSCURRENT as before.
func (r *Rotator) Finish(ctx context.Context, req rotators.FinishRequest) (rotators.FinishResponse, error) {
	pending, ok, err := req.Pending(ctx)
	if err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: read pending version: %w", err)
	}
	if !ok {
		return rotators.FinishResponse{}, errors.New("finishSecret: no pending version")
	}
	ep, err := target(pending)
	if err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", err)
	}
	// The current version is read only when it is needed, and checked
	// before its password is sent anywhere.
	var current *secret.Value
	loadCurrent := func(ctx context.Context) (secret.Value, bool, error) {
		if current != nil {
			return *current, true, nil
		}
		v, ok, err := req.Current(ctx)
		if err != nil || !ok {
			return v, ok, err
		}
		if err := samePending(ep, v); err != nil {
			return secret.Value{}, false, err
		}
		current = &v
		return v, true, nil
	}
	var c *goredis.Client
	connect := func() error {
		if c != nil {
			return nil
		}
		var err error
		c, err = r.loginAny(ctx, ep, known("pending", pending), candidate{"current", loadCurrent})
		return err
	}
	defer func() {
		if c != nil {
			_ = c.Close()
		}
	}()
	keep := []string{hashOf(pending.Password)}
	replaced, hasReplaced := recorded(pending, KeyReplacesSHA256)
	if hasReplaced {
		keep = append(keep, replaced)
	}
	if retire, ok := recorded(pending, KeyRetiresSHA256); ok && hasReplaced && !slices.Contains(keep, retire) {
		if err := connect(); err != nil {
			return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", err)
		}
		removed, err := removeHash(ctx, c, ep.user, retire)
		if err != nil {
			return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", err)
		}
		if removed {
			if err := save(ctx, c); err != nil {
				return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", err)
			}
			return rotators.FinishResponse{}, nil
		}
	}

	// No usable record, or the user no longer holds the recorded password:
	// ask the other versions.
	prev, ok, err := req.Previous(ctx)
	if err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: read previous version: %w", err)
	}
	if !ok || prev.Password == "" {
		if c != nil {
			// A retry after a failed ACL SAVE saves.
			if err := save(ctx, c); err != nil {
				return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", err)
			}
		}
		return rotators.FinishResponse{}, nil
	}
	cur, ok, err := loadCurrent(ctx)
	if err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: read current version: %w", err)
	}
	if !ok {
		return rotators.FinishResponse{}, errors.New("finishSecret: no current version")
	}
	h := hashOf(prev.Password)
	if prev.Username != ep.user || prev.Password == pending.Password || prev.Password == cur.Password || slices.Contains(keep, h) {
		// Another user's password (the secret was edited) or one still in
		// use: not this rotation's to remove.
		return rotators.FinishResponse{}, nil
	}
	if err := connect(); err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", err)
	}
	if _, err := removeHash(ctx, c, ep.user, h); err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", err)
	}
	if err := save(ctx, c); err != nil {
		return rotators.FinishResponse{}, fmt.Errorf("finishSecret: %w", err)
	}
	return rotators.FinishResponse{}, nil
}

// checkRecords refuses a pending value whose records would make finishSecret
// remove the current password: finishSecret trusts them without reading
// AWSCURRENT, so setSecret, which has it, checks them. createSecret never
// writes such a value (it records the current password as the one it
// replaces, and finishSecret keeps that one); a value put by hand or by a
// hostile writer can. The error names the keys, never the hashes.
func checkRecords(current, pending secret.Value) error {
	retire, ok := recorded(pending, KeyRetiresSHA256)
	if !ok || retire != hashOf(current.Password) {
		return nil
	}
	if replaced, ok := recorded(pending, KeyReplacesSHA256); ok && replaced == retire {
		return nil // finishSecret keeps the password the value replaced
	}
	return fmt.Errorf("%w: AWSPENDING's %s names the AWSCURRENT password and its %s does not; it was not written by createSecret (cancel the rotation; a hand-written pending value may leave both keys out)",
		ErrForgedRecord, KeyRetiresSHA256, KeyReplacesSHA256)
}

// removeHash removes the password whose SHA-256 is h from user, if user
// holds it, and reports whether it did.
func removeHash(ctx context.Context, c *goredis.Client, user, h string) (bool, error) {
	held, err := passwordHashes(ctx, c, user)
	if err != nil {
		return false, err
	}
	if !slices.Contains(held, h) {
		return false, nil
	}
	if err := c.ACLSetUser(ctx, user, "!"+h).Err(); err != nil {
		return false, fmt.Errorf("ACL SETUSER %s (remove previous password): %w", user, clean(err))
	}
	return true, nil
}

// recorded returns the SHA-256 a value records under key (KeyReplacesSHA256,
// KeyRetiresSHA256), in lower case; anything but 64 hex digits is no record.
// A record only ever names a password of the value's own user to remove, and
// never the pending one.
func recorded(v secret.Value, key string) (string, bool) {
	s, ok := v.Get(key)
	if !ok || !isSHA256Hex(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

// isSHA256Hex reports whether s is exactly one SHA-256 in hex. Not a
// regexp: a counted repetition is expanded at package init (shared/ascii).
func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// quiet drops go-redis's own log lines (pool dial failures): the rotator
// reports every failure in its step error, and the function's logs are JSON
// lines written by the engine alone.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func init() { goredis.SetLogger(quiet{}) }

// endpoint is where and as whom a secret logs in.
type endpoint struct {
	host string
	port int
	user string
	tls  bool
}

// target reads and checks the endpoint of v.
func target(v secret.Value) (endpoint, error) {
	if v.Engine != Engine {
		return endpoint{}, fmt.Errorf("%w: engine %q is not %q", ErrBadEndpoint, v.Engine, Engine)
	}
	if v.Host == "" {
		return endpoint{}, fmt.Errorf("%w: key %q is required", ErrBadEndpoint, secret.KeyHost)
	}
	if len(v.Host) > 253 || strings.ContainsAny(v.Host, "/\\@ \t\r\n\x00'\"") {
		return endpoint{}, fmt.Errorf("%w: key %q is not a host name or address", ErrBadEndpoint, secret.KeyHost)
	}
	port := v.Port
	if port == 0 {
		port = 6379
	}
	if err := checkUsername(v.Username); err != nil {
		return endpoint{}, err
	}
	return endpoint{host: v.Host, port: port, user: v.Username, tls: v.SSL == nil || *v.SSL}, nil
}

// samePending refuses a version naming another server, user or TLS setting
// than ep: a rotation changes one user on one server.
func samePending(ep endpoint, v secret.Value) error {
	other, err := target(v)
	if err != nil {
		return err
	}
	if !strings.EqualFold(other.host, ep.host) || other.port != ep.port || other.user != ep.user || other.tls != ep.tls {
		return fmt.Errorf("%w: the versions name different servers, users or TLS settings", ErrBadEndpoint)
	}
	return nil
}

// login opens one authenticated connection as ep.user with password: TLS
// verified against ep.host unless the secret turned TLS off, no retries, every
// command bounded by ctx.
func (r *Rotator) login(ctx context.Context, ep endpoint, pw string) (*goredis.Client, error) {
	r.stats.logins.Add(1)
	opts := &goredis.Options{
		Addr:                  net.JoinHostPort(ep.host, strconv.Itoa(ep.port)),
		Username:              ep.user,
		Password:              pw,
		Protocol:              2,
		DialTimeout:           r.cfg.ConnectTimeout,
		ReadTimeout:           r.cfg.ConnectTimeout,
		WriteTimeout:          r.cfg.ConnectTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		PoolSize:              1,
		MinIdleConns:          0,
		DisableIdentity:       true,
	}
	if ep.tls {
		roots, err := r.roots()
		if err != nil {
			return nil, fmt.Errorf("CA roots: %w", err)
		}
		opts.TLSConfig = &tls.Config{RootCAs: roots, ServerName: ep.host, MinVersion: tls.VersionTLS12}
	}
	c := goredis.NewClient(opts)
	who, err := c.ACLWhoAmI(ctx).Result()
	if err != nil {
		r.stats.failed.Add(1)
		_ = c.Close()
		return nil, fmt.Errorf("log in to %s as %s: %w", opts.Addr, ep.user, clean(err))
	}
	if who != ep.user {
		_ = c.Close()
		return nil, fmt.Errorf("%w (ACL WHOAMI answered %s)", ErrNotOwner, describeWho(who, pw))
	}
	return c, nil
}

// describeWho is how an error names the user ACL WHOAMI answered. The server
// is not trusted: it may answer with megabytes, with control characters that
// forge log lines, or with the password it was just sent (AUTH carries it in
// the clear to the server). The answer is quoted only when it is a plain user
// name (checkUsername: at most 128 characters of a small set) that is no part
// of the password and does not hold it; otherwise only its length is told.
func describeWho(who, pw string) string {
	if checkUsername(who) == nil && pw != "" && !strings.Contains(pw, who) && !strings.Contains(who, pw) {
		return strconv.Quote(who)
	}
	return fmt.Sprintf("a reply of %d bytes, not shown: not a plain user name, or part of the password", len(who))
}

// candidate is a version to log in with, read only when it is tried.
type candidate struct {
	name string
	load rotators.Loader
}

// known is a candidate already read.
func known(name string, v secret.Value) candidate {
	return candidate{name, func(context.Context) (secret.Value, bool, error) { return v, true, nil }}
}

// loginAny logs in with the first of candidates whose password is accepted,
// reading each only when the ones before it were refused. Only an
// authentication failure moves on to the next candidate.
func (r *Rotator) loginAny(ctx context.Context, ep endpoint, candidates ...candidate) (*goredis.Client, error) {
	var last error
	tried := map[string]bool{}
	for _, cand := range candidates {
		v, ok, err := cand.load(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s version: %w", cand.name, err)
		}
		if !ok || v.Password == "" || tried[v.Password] || v.Username != ep.user {
			continue
		}
		tried[v.Password] = true
		c, err := r.login(ctx, ep, v.Password)
		if err == nil {
			return c, nil
		}
		if !isAuthFailure(err) {
			return nil, err
		}
		last = err
	}
	if last == nil {
		return nil, ErrNoLogin
	}
	return nil, fmt.Errorf("%w: %w", ErrNoLogin, last)
}

// isAuthFailure reports whether err is the server refusing the credentials.
func isAuthFailure(err error) bool {
	var re goredis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		return strings.HasPrefix(msg, "WRONGPASS") || strings.Contains(msg, "invalid username-password")
	}
	return false
}

// passwordHashes returns the SHA-256 hashes of the passwords user holds (ACL
// GETUSER).
func passwordHashes(ctx context.Context, c *goredis.Client, user string) ([]string, error) {
	res, err := c.Do(ctx, "ACL", "GETUSER", user).Result()
	if err != nil {
		return nil, fmt.Errorf("ACL GETUSER %s: %w", user, clean(err))
	}
	fields, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("ACL GETUSER %s: unexpected reply", user)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if k, _ := fields[i].(string); k != "passwords" {
			continue
		}
		list, _ := fields[i+1].([]any)
		out := make([]string, 0, len(list))
		for _, p := range list {
			if s, ok := p.(string); ok {
				out = append(out, strings.ToLower(s))
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("ACL GETUSER %s: reply has no passwords", user)
}

// save runs ACL SAVE; a server without an ACL file keeps users in memory (or
// in redis.conf, saved by CONFIG REWRITE, which Rotary does not run), and that
// is not an error.
func save(ctx context.Context, c *goredis.Client) error {
	err := c.Do(ctx, "ACL", "SAVE").Err()
	if NotUsingACLFile(err) {
		slog.WarnContext(ctx, "redis: the server keeps no ACL file, so the password change lives in memory only until the operator saves it (CONFIG REWRITE when users are in redis.conf); see rotators/redis/README.md")
		return nil
	}
	if err == nil {
		return nil
	}
	return fmt.Errorf("ACL SAVE: %w", clean(err))
}

// NotUsingACLFile reports whether err is the server saying it keeps no ACL
// file: the new password then lives only in memory until the operator saves
// it (README: Troubleshooting).
func NotUsingACLFile(err error) bool {
	var re goredis.Error
	return errors.As(err, &re) && strings.Contains(re.Error(), "not configured to use an ACL file")
}

// hashOf is the hex SHA-256 of pw, the form ACL SETUSER takes after '#'.
func hashOf(pw string) string {
	sum := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(sum[:])
}

// hexHash matches a SHA-256 in hex, as an ACL error may quote a rule.
var hexHash = regexp.MustCompile(`(?i)[0-9a-f]{64}`)

// redactedError is a server or network error with any password hash taken
// out of its message; errors.As still finds the original.
type redactedError struct{ err error }

func (e redactedError) Error() string { return hexHash.ReplaceAllString(e.err.Error(), "<sha256>") }
func (e redactedError) Unwrap() error { return e.err }

// clean keeps password hashes out of error messages: Rotary sends no
// cleartext password in a command, but an ACL error names the rule that
// failed (#<sha256>), and a verifier has no place in a log either.
func clean(err error) error {
	if err == nil || !hexHash.MatchString(err.Error()) {
		return err
	}
	return redactedError{err}
}
