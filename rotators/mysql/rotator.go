package mysql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/dbrotator"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// What the three strategies (SingleUser, MultiUser, DualPassword: a type
// each, in single.go, multi.go and dual.go) share, as methods of the
// connector each of them embeds: the checks of a user secret and of the
// pending value against the current one, the new pending value, the
// current → pending → previous login chain, the master's login at its pinned
// endpoint, and testSecret.

// The sentinels of a refused rotation, package dbrotator's (shared with the
// PostgreSQL rotators).
var (
	// ErrNoCredential is wrapped when none of the stored passwords logs in.
	ErrNoCredential = dbrotator.ErrNoCredential
	// ErrGuard is wrapped when the secrets point the master at an account
	// the rotated secret does not own (another user, a host other than the
	// one the current credentials log in on, credentials that do not log
	// in), or a login ends up as another account than the secret's. Servers
	// are checked by ErrEndpointMismatch and ErrMasterEndpoint.
	ErrGuard = dbrotator.ErrGuard
	// ErrEndpointMismatch is wrapped when the user secret's host and port
	// are not the master's endpoint: the master credential is never sent
	// anywhere but the master's own server.
	ErrEndpointMismatch = dbrotator.ErrEndpointMismatch
	// ErrMasterEndpoint is wrapped when the master secret has no host and
	// the RDS resolver does not give its database's endpoint (no resolver,
	// the secret is not RDS-managed, or the RDS API failed).
	ErrMasterEndpoint = dbrotator.ErrMasterEndpoint
)

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

// newPending returns current with a new password from gen (the policy's
// local generator when nil) and username.
func (r *connector) newPending(ctx context.Context, gen password.Generator, current secret.Value, username string) (secret.Value, error) {
	if gen == nil {
		gen = password.Local{}
	}
	pw, err := gen.Generate(ctx, r.cfg.Passwords)
	if err != nil {
		return secret.Value{}, fmt.Errorf("generate password: %w", err)
	}
	pending := current.Clone()
	pending.Username = username
	pending.Password = pw
	return pending, nil
}

// checkSet checks the current value and the pending one (which must name
// wantUser) before any connection: the first part of every strategy's Set.
func checkSet(req rotators.SetRequest, wantUser string) error {
	if err := checkUserSecret(req.Current); err != nil {
		return fmt.Errorf("current value: %w", err)
	}
	return checkPending(req.Current, req.Pending, wantUser)
}

// checkPending checks that pending describes the account current's rotation
// may change: same server, same database, and the same user (or its
// alternate, for alternating users: wantUser).
func checkPending(cur, pending secret.Value, wantUser string) error {
	if err := checkUserSecret(pending); err != nil {
		return fmt.Errorf("pending value: %w", err)
	}
	curHost, _ := cur.Get(KeyAccountHost)
	pendHost, _ := pending.Get(KeyAccountHost)
	switch {
	case pending.Username != wantUser:
		return fmt.Errorf("%w: pending user name is not the one this strategy rotates to", ErrGuard)
	case !strings.EqualFold(pending.Host, cur.Host) || pending.Port != cur.Port:
		return fmt.Errorf("%w: pending host or port differs from current", ErrGuard)
	case curHost != pendHost:
		return fmt.Errorf("%w: pending %s differs from current", ErrGuard, KeyAccountHost)
	case pending.DBName != cur.DBName:
		return fmt.Errorf("%w: pending dbname differs from current", ErrGuard)
	case pending.MasterARN != cur.MasterARN:
		return fmt.Errorf("%w: pending masterarn differs from current", ErrGuard)
	case pending.Password == cur.Password:
		return &secret.KeyError{Key: secret.KeyPassword, Problem: "of the pending value equals the current one"}
	}
	return nil
}

// loginChain logs in as the user with the current password, then the pending
// one, then the previous one, stopping at the first that works
// (dbrotator.LoginChain: only a rejected password moves on to the next; a
// network or TLS failure ends the chain at once). Each login uses the TLS
// setting of the version whose password it sends, and the previous password
// is tried only when its version names the current one's host, port and
// user.
func (r *connector) loginChain(ctx context.Context, cur, pending secret.Value, previous rotators.Loader) (*session, dbrotator.Version, error) {
	e, err := endpointOf(cur)
	if err != nil {
		return nil, 0, err
	}
	pe, err := endpointOf(pending)
	if err != nil {
		return nil, 0, err
	}
	all := []string{cur.Password, pending.Password}
	return dbrotator.LoginChain(ctx, dbrotator.Logins[*session]{
		User: cur.Username,
		Current: func(ctx context.Context) (*session, error) {
			s, err := r.connect(ctx, e, cur.Username, cur.Password, all...)
			if err == nil {
				s.password = cur.Password
			}
			return s, err
		},
		Pending: func(ctx context.Context) (*session, error) {
			return r.connect(ctx, pe, pending.Username, pending.Password, all...)
		},
		Previous: func(ctx context.Context) (*session, error) {
			return r.connectPrevious(ctx, e, cur, previous, all)
		},
	})
}

// connectPrevious logs in with AWSPREVIOUS, when it is for the current
// version's user, host and port and holds another password.
func (r *connector) connectPrevious(ctx context.Context, e endpoint, cur secret.Value, previous rotators.Loader, scrub []string) (*session, error) {
	if previous == nil {
		return nil, dbrotator.NoPrevious("")
	}
	prev, ok, err := previous(ctx)
	if err != nil {
		return nil, fmt.Errorf("load previous value: %w", err)
	}
	if !ok || prev.Password == "" || prev.Password == cur.Password {
		return nil, dbrotator.NoPrevious("")
	}
	prevEP, err := endpointOf(prev)
	if err != nil || !strings.EqualFold(prevEP.host, e.host) || prevEP.port != e.port {
		return nil, dbrotator.NoPrevious("the previous secret is for another server")
	}
	if prev.Username != cur.Username {
		return nil, dbrotator.NoPrevious("the previous secret is not for the same user")
	}
	s, err := r.connect(ctx, prevEP, cur.Username, prev.Password, append(scrub, prev.Password)...)
	if err == nil {
		s.password = prev.Password
	}
	return s, err
}

// EndpointResolver finds the endpoint of the database an RDS-managed master
// secret belongs to: rotators.EndpointResolver, the one resolver every
// database engine shares (start-up passes it in Config.Endpoints, from
// rotators.Deps). An error, or an empty host, means the endpoint is unknown,
// and the master secret is then not used.
type EndpointResolver = rotators.EndpointResolver

// masterEndpoint is where the master logs in (dbrotator.MasterEndpoint: the
// master secret's own server, or its RDS endpoint; the user secret must name
// the same). TLS comes from the master secret alone ("ssl" absent means
// verified TLS), never from the user secret.
func (r *connector) masterEndpoint(ctx context.Context, token string, cur, master secret.Value) (endpoint, error) {
	if _, err := endpointOf(cur); err != nil {
		return endpoint{}, err
	}
	if master.Host != "" {
		if _, err := endpointOf(master); err != nil {
			return endpoint{}, fmt.Errorf("master secret: %w", err)
		}
	}
	at, err := dbrotator.MasterEndpoint(ctx, r.cfg.Endpoints, token, cur, master, DefaultPort)
	if err != nil {
		return endpoint{}, err
	}
	return endpoint{host: at.Host, port: at.Port, tls: master.SSL == nil || *master.SSL}, nil
}

// connectMaster loads the master secret, checks it against the user secret,
// proves the current credentials by logging in with them and logs in as the
// master at the master's own endpoint. It returns the host part of the
// account the current credentials logged in as (CURRENT_USER()): the only
// host the master may act on.
func (r *connector) connectMaster(ctx context.Context, token string, cur, pending secret.Value, load rotators.Loader) (*session, string, error) {
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
		return nil, "", fmt.Errorf("%w: the master user would rotate itself", ErrGuard)
	}
	if master.Engine != "" && !slices.ContainsFunc(Engines, func(e string) bool { return strings.EqualFold(e, master.Engine) }) {
		return nil, "", fmt.Errorf("master secret: %w", &secret.KeyError{Key: secret.KeyEngine, Problem: "is not a MySQL or MariaDB engine"})
	}
	mep, err := r.masterEndpoint(ctx, token, cur, master)
	if err != nil {
		return nil, "", err
	}
	host, err := r.proveCurrent(ctx, cur, pending)
	if err != nil {
		return nil, "", err
	}
	s, err := r.connect(ctx, mep, master.Username, master.Password, cur.Password, pending.Password)
	if err != nil {
		return nil, "", fmt.Errorf("log in as master user: %w", err)
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
func (r *connector) proveCurrent(ctx context.Context, cur, pending secret.Value) (string, error) {
	e, err := endpointOf(cur)
	if err != nil {
		return "", err
	}
	cs, err := r.connect(ctx, e, cur.Username, cur.Password, pending.Password)
	if errors.Is(err, ErrAuth) {
		return "", fmt.Errorf("%w: the current credentials do not log in, so the master will not change user %q: %w", ErrGuard, pending.Username, err)
	}
	if err != nil {
		return "", fmt.Errorf("log in as current user: %w", err)
	}
	defer cs.close()
	user, host, err := cs.currentUser(ctx)
	if err != nil {
		return "", err
	}
	if user != cur.Username {
		return "", fmt.Errorf("%w: the current credentials log in as another user than the secret's", ErrGuard)
	}
	if h, ok := cur.Get(KeyAccountHost); ok && h != host {
		return "", fmt.Errorf("%w: %s %q is not the host of the account the current credentials log in as (%q)", ErrGuard, KeyAccountHost, h, host)
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
		return "", "", fmt.Errorf("read current user: %w: the server's answer has no host part", ErrGuard)
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

// test logs in with the pending value and checks the server sees the
// expected user (every strategy's Test). It changes nothing.
func (r *connector) test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
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
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w: logged in as another account than the pending user", ErrGuard)
	}
	if h, ok := p.Get(KeyAccountHost); ok && h != host {
		return rotators.TestResponse{}, fmt.Errorf("testSecret: %w: logged in as the pending user on host %q, not its %s %q", ErrGuard, host, KeyAccountHost, h)
	}
	return rotators.TestResponse{}, nil
}
