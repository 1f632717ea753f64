package mysql

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/mysql/internal/authhash"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// Rotator rotates one MySQL/MariaDB credential with one strategy. It holds no
// secret between calls and is safe for concurrent use.
type Rotator struct {
	cfg      Config
	strategy string
	stats    counters
}

var _ rotators.Rotator = (*Rotator)(nil)

// NewSingleUser returns a rotator where the user changes its own password.
func NewSingleUser(cfg Config) *Rotator { return &Rotator{cfg: cfg, strategy: rotators.SingleUser} }

// NewMultiUser returns a rotator that alternates between the user and its
// _clone, managed by the master secret named by masterarn.
func NewMultiUser(cfg Config) *Rotator {
	return &Rotator{cfg: cfg, strategy: rotators.AlternatingUsers}
}

// NewDualPassword returns a rotator that keeps the old password valid as the
// secondary password (MySQL 8.0.14+). It changes the account as the master
// user when the secret has masterarn, else as the user itself (which then
// needs the APPLICATION_PASSWORD_ADMIN privilege).
func NewDualPassword(cfg Config) *Rotator {
	return &Rotator{cfg: cfg, strategy: rotators.DualPassword}
}

// Strategy is the rotationStrategy value this rotator implements.
func (r *Rotator) Strategy() string { return r.strategy }

// Stats returns the connection attempts made so far.
func (r *Rotator) Stats() Stats { return r.stats.snapshot() }

// ErrNoWorkingPassword is wrapped when none of the stored passwords logs in.
var ErrNoWorkingPassword = errors.New("none of the current, pending or previous passwords is accepted")

// ErrConfusedDeputy is wrapped when the secrets point the master at an account
// the rotated secret does not own: another user, a host other than the one
// the current credentials log in on, or credentials that do not log in.
// Servers are checked by ErrEndpointMismatch and ErrNoMasterEndpoint.
var ErrConfusedDeputy = errors.New("refused: the secrets do not describe the same account")

// checkUserSecret validates what every strategy needs from a user secret,
// before any connection.
func checkUserSecret(v secret.Value) error {
	if err := v.Require(secret.KeyHost, secret.KeyUsername, secret.KeyPassword); err != nil {
		return err
	}
	if err := checkUser(v.Username); err != nil {
		return err
	}
	if h, ok := v.Get(KeyAccountHost); ok {
		if err := checkName("account host", h, MaxHostLen); err != nil {
			return &secret.KeyError{Key: KeyAccountHost, Problem: "is not usable: " + err.Error()}
		}
	}
	_, err := endpointOf(v)
	return err
}

// Create returns the pending value: the current one with a new password and,
// for alternating users, the other user name. It does not touch the server.
// Safe to call twice.
func (r *Rotator) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	cur := req.Current
	if err := checkUserSecret(cur); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	pending := cur.Clone()
	switch r.strategy {
	case rotators.AlternatingUsers:
		if err := cur.Require(secret.KeyMasterARN); err != nil {
			return rotators.CreateResponse{}, fmt.Errorf("createSecret: alternating users: %w", err)
		}
		pending.Username = altUser(cur.Username)
		if n, limit := len([]rune(pending.Username)), engineUserLimit(cur.Engine); n > limit {
			return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", &secret.KeyError{Key: secret.KeyUsername,
				Problem: fmt.Sprintf("is too long to alternate: with %s it has %d characters, more than %d for engine %q", CloneSuffix, n, limit, cur.Engine)})
		}
	case rotators.DualPassword:
		if strings.EqualFold(cur.Engine, "mariadb") {
			return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w (engine is mariadb)", ErrDualPasswordUnsupported)
		}
	}
	gen := req.Passwords
	if gen == nil {
		gen = password.Local{}
	}
	pw, err := gen.Generate(ctx, r.cfg.Passwords)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: generate password: %w", err)
	}
	pending.Password = pw
	return rotators.CreateResponse{Pending: pending}, nil
}

// checkPending checks that pending describes the account current's rotation
// may change: same server, same database, and the same user (or its
// alternate, for alternating users).
func (r *Rotator) checkPending(cur, pending secret.Value) error {
	if err := checkUserSecret(pending); err != nil {
		return fmt.Errorf("pending value: %w", err)
	}
	wantUser := cur.Username
	if r.strategy == rotators.AlternatingUsers {
		wantUser = altUser(cur.Username)
	}
	curHost, _ := cur.Get(KeyAccountHost)
	pendHost, _ := pending.Get(KeyAccountHost)
	switch {
	case pending.Username != wantUser:
		return fmt.Errorf("%w: pending user name is not the one this strategy rotates to", ErrConfusedDeputy)
	case !strings.EqualFold(pending.Host, cur.Host) || pending.Port != cur.Port:
		return fmt.Errorf("%w: pending host or port differs from current", ErrConfusedDeputy)
	case curHost != pendHost:
		return fmt.Errorf("%w: pending %s differs from current", ErrConfusedDeputy, KeyAccountHost)
	case pending.DBName != cur.DBName:
		return fmt.Errorf("%w: pending dbname differs from current", ErrConfusedDeputy)
	case pending.MasterARN != cur.MasterARN:
		return fmt.Errorf("%w: pending masterarn differs from current", ErrConfusedDeputy)
	case pending.Password == cur.Password:
		return &secret.KeyError{Key: secret.KeyPassword, Problem: "of the pending value equals the current one"}
	}
	return nil
}

// Set makes the pending password valid on the server. Safe to call twice: a
// pending password that already works is left as it is.
func (r *Rotator) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	if err := checkUserSecret(req.Current); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: current value: %w", err)
	}
	if err := r.checkPending(req.Current, req.Pending); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	var err error
	switch r.strategy {
	case rotators.SingleUser:
		err = r.setSingle(ctx, req)
	case rotators.AlternatingUsers:
		err = r.setMulti(ctx, req)
	case rotators.DualPassword:
		err = r.setDual(ctx, req)
	default:
		err = fmt.Errorf("unknown strategy %q", r.strategy)
	}
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	return rotators.SetResponse{}, nil
}

type loggedInAs int

const (
	asCurrent loggedInAs = iota
	asPending
	asPrevious
)

// loginChain logs in as the user with the current password, then the pending
// one, then the previous one, stopping at the first that works. Only a
// rejected password moves on to the next; a network or TLS failure ends the
// chain at once. Each login uses the TLS setting of the version whose
// password it sends, and the previous password is tried only when its
// version names the current one's host and port.
func (r *Rotator) loginChain(ctx context.Context, cur, pending secret.Value, previous rotators.Loader) (*session, loggedInAs, error) {
	e, err := endpointOf(cur)
	if err != nil {
		return nil, 0, err
	}
	pe, err := endpointOf(pending)
	if err != nil {
		return nil, 0, err
	}
	all := []string{cur.Password, pending.Password}
	s, err := r.connect(ctx, e, cur.Username, cur.Password, all...)
	if err == nil {
		s.password = cur.Password
		return s, asCurrent, nil
	}
	if !errors.Is(err, ErrAccessDenied) {
		return nil, 0, fmt.Errorf("connect as current user: %w", err)
	}
	s, err = r.connect(ctx, pe, pending.Username, pending.Password, all...)
	if err == nil {
		return s, asPending, nil
	}
	if !errors.Is(err, ErrAccessDenied) {
		return nil, 0, fmt.Errorf("connect as pending user: %w", err)
	}
	if previous != nil {
		prev, ok, lerr := previous(ctx)
		if lerr != nil {
			return nil, 0, fmt.Errorf("load previous value: %w", lerr)
		}
		prevEP, perr := endpointOf(prev)
		if ok && perr == nil && strings.EqualFold(prevEP.host, e.host) && prevEP.port == e.port &&
			prev.Username == cur.Username && prev.Password != "" && prev.Password != cur.Password {
			all = append(all, prev.Password)
			s, err = r.connect(ctx, prevEP, cur.Username, prev.Password, all...)
			if err == nil {
				s.password = prev.Password
				return s, asPrevious, nil
			}
			if !errors.Is(err, ErrAccessDenied) {
				return nil, 0, fmt.Errorf("connect as previous user: %w", err)
			}
		}
	}
	return nil, 0, fmt.Errorf("%w for user %q: %w", ErrNoWorkingPassword, cur.Username, ErrAccessDenied)
}

func (r *Rotator) setSingle(ctx context.Context, req rotators.SetRequest) error {
	s, as, err := r.loginChain(ctx, req.Current, req.Pending, req.Previous)
	if err != nil {
		return err
	}
	defer s.close()
	if as == asPending {
		return nil // already set by an earlier attempt
	}
	if h, ok := req.Current.Get(KeyAccountHost); ok {
		// testSecret would refuse the account afterwards; refuse it before
		// its password changes.
		if _, host, err := s.currentUser(ctx); err != nil {
			return err
		} else if host != h {
			return fmt.Errorf("%w: %s %q is not the host of the account the current credentials log in as (%q)", ErrConfusedDeputy, KeyAccountHost, h, host)
		}
	}
	// SHOW CREATE USER is allowed for one's own account on MySQL and MariaDB.
	plugin := ""
	if !s.srv.MariaDB {
		plugin = s.srv.defaultPlugin()
	}
	if lines, err := s.lines(ctx, "show own account", "SHOW CREATE USER CURRENT_USER()"); err == nil && len(lines) > 0 {
		if o, err := parseCreateUser(lines[0]); err == nil && o.Plugin != "" {
			plugin = o.Plugin
		}
	}
	cred, err := hashFor(s.srv, plugin, req.Pending.Password)
	if err != nil {
		return fmt.Errorf("hash pending password: %w", err)
	}
	err = s.exec(ctx, "change own password", setOwnPassword(s.srv, cred))
	if err != nil && !s.srv.MariaDB && s.srv.atLeast(5, 7, 6) && isPrivilegeError(err) {
		// MySQL accepts a pre-hashed password only from accounts with CREATE
		// USER; others may change their own password only in plaintext.
		err = s.exec(ctx, "change own password", ownPasswordPlain(s.srv, req.Pending.Password, s.password))
	}
	return err
}

// EndpointResolver finds the endpoint of the database an RDS-managed master
// secret belongs to: rotators.EndpointResolver, the one resolver every
// database engine shares (start-up passes it in Config.Endpoints, from
// rotators.Deps). An error, or an empty host, means the endpoint is unknown,
// and the master secret is then not used.
type EndpointResolver = rotators.EndpointResolver

// ErrEndpointMismatch is wrapped when the user secret's host and port are not
// the master's endpoint: the master credential is never sent anywhere but
// the master's own server.
var ErrEndpointMismatch = errors.New("refused: the user secret's host and port are not the master's database endpoint")

// ErrNoMasterEndpoint is wrapped when the master secret has no host and the
// RDS resolver does not give its database's endpoint (no resolver, the
// secret is not RDS-managed, or the RDS API failed).
var ErrNoMasterEndpoint = errors.New("refused: the master secret has no host and its database endpoint cannot be resolved through RDS")

// masterEndpoint is where the master logs in: the master secret's own host
// and port, or, for a master secret without host, the endpoint the RDS
// resolver gives. TLS comes from the master secret alone ("ssl" absent means
// verified TLS), never from the user secret. The user secret must name the
// same host (case-insensitive) and port.
func (r *Rotator) masterEndpoint(ctx context.Context, cur, master secret.Value) (endpoint, error) {
	userEP, err := endpointOf(cur)
	if err != nil {
		return endpoint{}, err
	}
	var mep endpoint
	if master.Host != "" {
		if mep, err = endpointOf(master); err != nil {
			return endpoint{}, fmt.Errorf("master secret: %w", err)
		}
	} else {
		if r.cfg.Endpoints == nil {
			return endpoint{}, fmt.Errorf("%w (no RDS resolver is configured)", ErrNoMasterEndpoint)
		}
		host, port, err := r.cfg.Endpoints.ResolveEndpoint(ctx, cur.MasterARN, cur.DBInstanceIdentifier, cur.DBClusterIdentifier)
		if err != nil {
			return endpoint{}, fmt.Errorf("%w: %w", ErrNoMasterEndpoint, err)
		}
		if host == "" || strings.ContainsAny(host, "/ \t\n") {
			return endpoint{}, fmt.Errorf("%w (the resolver gave no usable host)", ErrNoMasterEndpoint)
		}
		if port == 0 {
			port = DefaultPort
		}
		if master.Port != 0 && master.Port != port {
			return endpoint{}, fmt.Errorf("%w: the master secret's port is not its RDS database's", ErrEndpointMismatch)
		}
		mep = endpoint{host: host, port: port, tls: master.SSL == nil || *master.SSL}
	}
	mep.dbName = ""
	if !strings.EqualFold(mep.host, userEP.host) || mep.port != userEP.port {
		return endpoint{}, fmt.Errorf("%w (master at %s)", ErrEndpointMismatch, net.JoinHostPort(mep.host, strconv.Itoa(mep.port)))
	}
	return mep, nil
}

// connectMaster loads the master secret, checks it against the user secret,
// proves the current credentials by logging in with them and logs in as the
// master at the master's own endpoint. It returns the host part of the
// account the current credentials logged in as (CURRENT_USER()): the only
// host the master may act on.
func (r *Rotator) connectMaster(ctx context.Context, cur, pending secret.Value, load rotators.Loader) (*session, string, error) {
	if load == nil {
		return nil, "", &secret.KeyError{Key: secret.KeyMasterARN, Problem: "is missing or empty"}
	}
	master, ok, err := load(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("load master secret: %w", err)
	}
	if !ok {
		return nil, "", &secret.KeyError{Key: secret.KeyMasterARN, Problem: "names no readable secret"}
	}
	if err := master.Require(secret.KeyUsername, secret.KeyPassword); err != nil {
		return nil, "", fmt.Errorf("master secret: %w", err)
	}
	base := baseUser(cur.Username)
	if master.Username == base || master.Username == base+CloneSuffix {
		return nil, "", fmt.Errorf("%w: the master user would rotate itself", ErrConfusedDeputy)
	}
	if master.Engine != "" && !slices.ContainsFunc(Engines, func(e string) bool { return strings.EqualFold(e, master.Engine) }) {
		return nil, "", fmt.Errorf("master secret: %w", &secret.KeyError{Key: secret.KeyEngine, Problem: "is not a MySQL or MariaDB engine"})
	}
	mep, err := r.masterEndpoint(ctx, cur, master)
	if err != nil {
		return nil, "", err
	}
	host, err := r.proveCurrent(ctx, cur, pending)
	if err != nil {
		return nil, "", err
	}
	s, err := r.connect(ctx, mep, master.Username, master.Password, cur.Password, pending.Password)
	if err != nil {
		return nil, "", fmt.Errorf("connect as master user: %w", err)
	}
	return s, host, nil
}

// proveCurrent logs in with the current credentials at the user secret's
// endpoint (with the user secret's TLS setting) and returns the host part of
// CURRENT_USER(). Only the holder of an account's password may have the
// master act on it: otherwise anyone allowed to write a secret naming the
// master could have it reset or clone an account they do not hold, including
// the same user name on another host ('app'@'10.0.%' for the holder of
// 'app'@'%'). A secret's accountHost must be that host.
func (r *Rotator) proveCurrent(ctx context.Context, cur, pending secret.Value) (string, error) {
	e, err := endpointOf(cur)
	if err != nil {
		return "", err
	}
	cs, err := r.connect(ctx, e, cur.Username, cur.Password, pending.Password)
	if errors.Is(err, ErrAccessDenied) {
		return "", fmt.Errorf("%w: the current credentials do not log in, so the master will not change user %q: %w", ErrConfusedDeputy, pending.Username, err)
	}
	if err != nil {
		return "", fmt.Errorf("connect as current user: %w", err)
	}
	defer cs.close()
	user, host, err := cs.currentUser(ctx)
	if err != nil {
		return "", err
	}
	if user != cur.Username {
		return "", fmt.Errorf("%w: the current credentials log in as another user than the secret's", ErrConfusedDeputy)
	}
	if h, ok := cur.Get(KeyAccountHost); ok && h != host {
		return "", fmt.Errorf("%w: %s %q is not the host of the account the current credentials log in as (%q)", ErrConfusedDeputy, KeyAccountHost, h, host)
	}
	return host, nil
}

// currentUser returns the user and host parts of CURRENT_USER(): the
// account the server matched the login to.
func (s *session) currentUser(ctx context.Context) (user, host string, err error) {
	var who string
	if err := s.conn.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&who); err != nil {
		return "", "", s.err("read current user", err)
	}
	i := strings.LastIndexByte(who, '@')
	if i < 0 {
		return "", "", fmt.Errorf("read current user: %w: the server's answer has no host part", ErrConfusedDeputy)
	}
	return who[:i], who[i+1:], nil
}

// isNoSuchUser reports whether err says an account does not exist.
func isNoSuchUser(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1133, 1141, 1396, 1449: // no such user / no grants defined / operation failed / definer missing
		return true
	}
	return false
}

func (r *Rotator) setMulti(ctx context.Context, req rotators.SetRequest) error {
	cur, pending := req.Current, req.Pending
	s, host, err := r.connectMaster(ctx, cur, pending, req.Master)
	if err != nil {
		return err
	}
	defer s.close()
	base := baseUser(cur.Username)
	clone := base + CloneSuffix
	if n, limit := len([]rune(clone)), s.srv.maxUserLen(); n > limit {
		return &secret.KeyError{Key: secret.KeyUsername, Problem: fmt.Sprintf(
			"is too long to alternate on %s: with %s it has %d characters, more than %d", s.srv, CloneSuffix, n, limit)}
	}
	origAcct, pendAcct := account(base, host), account(pending.Username, host)
	lines, err := s.lines(ctx, "show original user", "SHOW CREATE USER "+origAcct)
	if err != nil {
		if isNoSuchUser(err) {
			return fmt.Errorf("original user %q@%q does not exist: %w", base, host, err)
		}
		return err
	}
	if len(lines) == 0 {
		return fmt.Errorf("original user %q@%q: SHOW CREATE USER returned nothing", base, host)
	}
	orig, err := parseCreateUser(lines[0])
	if err != nil {
		return fmt.Errorf("original user %q@%q: %w", base, host, err)
	}
	plugin := orig.Plugin
	if plugin == "" {
		plugin = s.srv.defaultPlugin()
	}
	cred, err := hashFor(s.srv, plugin, pending.Password)
	if err != nil {
		return fmt.Errorf("hash pending password: %w", err)
	}
	if pending.Username == base {
		return s.exec(ctx, "set original user's password", alterPassword(s.srv, origAcct, cred))
	}

	// The clone: create it or set its password, then copy REQUIRE and grants.
	// The original's grants are read and parsed first, so output this
	// package does not understand fails the step before anything changes.
	origGrants, err := s.lines(ctx, "show original user's grants", "SHOW GRANTS FOR "+origAcct)
	if err != nil {
		return err
	}
	if _, err := collect(origGrants); err != nil {
		return fmt.Errorf("read grants of the original user: %w", err)
	}
	exists := true
	var cloneOpts userOptions
	if cl, err := s.lines(ctx, "show clone", "SHOW CREATE USER "+pendAcct); err != nil {
		if !isNoSuchUser(err) {
			return err
		}
		exists = false
	} else if len(cl) > 0 {
		if cloneOpts, err = parseCreateUser(cl[0]); err != nil {
			return fmt.Errorf("clone %q@%q: %w", pending.Username, host, err)
		}
	}
	if exists {
		if err := s.exec(ctx, "set clone's password", alterPassword(s.srv, pendAcct, cred)); err != nil {
			return err
		}
	} else if err := s.exec(ctx, "create clone", createUser(s.srv, pendAcct, cred)); err != nil {
		return err
	}
	want := orig.Require
	if want == "" {
		want = "NONE"
	}
	have := cloneOpts.Require
	if have == "" {
		have = "NONE"
	}
	if !strings.EqualFold(want, have) {
		if err := s.exec(ctx, "copy REQUIRE options to clone", statement{query: "ALTER USER " + pendAcct + " REQUIRE " + want}); err != nil {
			return err
		}
	}
	cloneGrants, err := s.lines(ctx, "show clone's grants", "SHOW GRANTS FOR "+pendAcct)
	if err != nil {
		return err
	}
	stmts, err := syncGrants(origGrants, cloneGrants, pendAcct)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if err := s.exec(ctx, "copy grants to clone", st); err != nil {
			return err
		}
	}
	return nil
}

func (r *Rotator) setDual(ctx context.Context, req rotators.SetRequest) error {
	cur, pending := req.Current, req.Pending
	var (
		s    *session
		acct = "CURRENT_USER()"
		err  error
	)
	if cur.MasterARN != "" {
		var host string
		if s, host, err = r.connectMaster(ctx, cur, pending, req.Master); err != nil {
			return err
		}
		acct = account(cur.Username, host)
	} else {
		var as loggedInAs
		if s, as, err = r.loginChain(ctx, cur, pending, req.Previous); err != nil {
			return err
		}
		if as == asPending {
			s.close()
			return nil // pending is already the primary password
		}
	}
	defer s.close()
	if !s.srv.dualPassword() {
		return fmt.Errorf("%w (server is %s)", ErrDualPasswordUnsupported, s.srv)
	}
	// The current password logs in both before and after this step (it
	// becomes the secondary), so ask the server whether the primary already
	// is the pending one.
	known := false
	if lines, err := s.lines(ctx, "show account", "SHOW CREATE USER "+acct); err == nil && len(lines) > 0 {
		if o, err := parseCreateUser(lines[0]); err == nil && (authhash.IsNative(o.Hash) || strings.HasPrefix(o.Hash, "$A$")) {
			known = true
			if storedMatches(o, pending.Password) {
				return nil
			}
		}
	}
	if !known {
		// The stored hash cannot be read or checked here. Repeating the
		// statements would discard AWSCURRENT (now the secondary), so ask the
		// server instead: if the pending password logs in, it is the primary.
		e, err := endpointOf(pending)
		if err != nil {
			return err
		}
		ps, err := r.connect(ctx, e, cur.Username, pending.Password, cur.Password)
		if err == nil {
			ps.close()
			return nil
		}
		if !errors.Is(err, ErrAccessDenied) {
			return fmt.Errorf("connect as pending user: %w", err)
		}
	}
	stmts, err := dualPasswordStatements(s.srv, acct, pending.Password)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if err := s.exec(ctx, "set password retaining the current one", st); err != nil {
			return err
		}
	}
	return nil
}

// storedMatches reports whether o's stored hash is pw's.
func storedMatches(o userOptions, pw string) bool {
	switch {
	case authhash.IsNative(o.Hash):
		return o.Hash == authhash.Native(pw)
	case strings.HasPrefix(o.Hash, "$A$"):
		ok, err := authhash.VerifyCachingSHA2(pw, o.Hash)
		return err == nil && ok
	}
	return false
}

// Test logs in with the pending value and checks the server sees the
// expected user. It changes nothing.
func (r *Rotator) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	p := req.Pending
	if err := checkUserSecret(p); err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: pending value: %w", err)
	}
	e, err := endpointOf(p)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w", err)
	}
	s, err := r.connect(ctx, e, p.Username, p.Password)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: connect as pending user: %w", err)
	}
	defer s.close()
	user, host, err := s.currentUser(ctx)
	if err != nil {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w", err)
	}
	if user != p.Username {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w: logged in as another account than the pending user", ErrConfusedDeputy)
	}
	if h, ok := p.Get(KeyAccountHost); ok && h != host {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w: logged in as the pending user on host %q, not its %s %q", ErrConfusedDeputy, host, KeyAccountHost, h)
	}
	return rotators.TestResponse{}, nil
}

// EndpointResolver returns the resolver the rotator was built with, for
// start-up tests.
func (r *Rotator) EndpointResolver() EndpointResolver { return r.cfg.Endpoints }
