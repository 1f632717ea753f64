package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// MultiUser alternates between the user and its _clone, managed by the master
// user of the secret's masterarn: each rotation gives the user that is not
// AWSCURRENT a new password, copying the original's grants and REQUIRE
// options to the clone and revoking stale ones, so AWSPREVIOUS keeps working
// until the next rotation. The master acts only on the host of the account
// the current credentials log in as, at the master's pinned endpoint. It
// holds no secret between calls and is safe for concurrent use.
type MultiUser struct {
	*connector
}

var _ rotators.Rotator = (*MultiUser)(nil)

// NewMultiUser returns the alternating-users rotator.
func NewMultiUser(cfg Config) *MultiUser { return &MultiUser{connector: newConnector(cfg)} }

// Create returns the current value with the other user of the pair and a new
// password. It does not touch the server. Safe to call twice.
func (r *MultiUser) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	cur := req.Current
	if err := checkUserSecret(cur); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	if err := cur.Require(secret.KeyMasterARN); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: alternating users: %w", err)
	}
	alt := altUser(cur.Username)
	if n, limit := len([]rune(alt)), engineUserLimit(cur.Engine); n > limit {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", &secret.KeyError{Key: secret.KeyUsername,
			Problem: fmt.Sprintf("is too long to alternate: with %s it has %d characters, more than %d for engine %q", CloneSuffix, n, limit, cur.Engine)})
	}
	pending, err := r.newPending(ctx, req.Passwords, cur, alt)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	return rotators.CreateResponse{Pending: pending}, nil
}

// Set makes the pending user's password valid, as the master: the
// original's password, or the clone's (created if missing) with the
// original's REQUIRE options and grants. Safe to call twice.
func (r *MultiUser) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	if err := checkSet(req, altUser(req.Current.Username)); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	if err := r.set(ctx, req); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	return rotators.SetResponse{}, nil
}

// Test logs in with the pending value and checks the server sees the
// expected user. It changes nothing.
func (r *MultiUser) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	return r.test(ctx, req)
}

// set runs, as the master on the host of the account the current
// credentials log in as: read the original account, then set the original's
// password, or set up the clone (setClone).
func (r *MultiUser) set(ctx context.Context, req rotators.SetRequest) error {
	cur, pending := req.Current, req.Pending
	s, host, err := r.connectMaster(ctx, req.Token, cur, pending, req.Master)
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
	origAcct := account(base, host)
	orig, err := showUser(ctx, s, "original user", base, host)
	if err != nil {
		return err
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
	return setClone(ctx, s, origAcct, orig, account(pending.Username, host), cred)
}

// showUser reads SHOW CREATE USER for user@host; what names the account in
// errors.
func showUser(ctx context.Context, s *session, what, user, host string) (userOptions, error) {
	lines, err := s.lines(ctx, "show "+what, "SHOW CREATE USER "+account(user, host))
	if err != nil {
		if isNoSuchUser(err) {
			return userOptions{}, fmt.Errorf("%s %q@%q does not exist: %w", what, user, host, err)
		}
		return userOptions{}, err
	}
	if len(lines) == 0 {
		return userOptions{}, fmt.Errorf("%s %q@%q: SHOW CREATE USER returned nothing", what, user, host)
	}
	o, err := parseCreateUser(lines[0])
	if err != nil {
		return userOptions{}, fmt.Errorf("%s %q@%q: %w", what, user, host, err)
	}
	return o, nil
}

// setClone creates the clone or sets its password, then copies the
// original's REQUIRE options and grants to it. The original's grants are
// read and parsed first, so output this package does not understand fails
// the step before anything changes.
func setClone(ctx context.Context, s *session, origAcct string, orig userOptions, cloneAcct string, cred credential) error {
	origGrants, err := s.lines(ctx, "show original user's grants", "SHOW GRANTS FOR "+origAcct)
	if err != nil {
		return err
	}
	if _, err := collect(origGrants); err != nil {
		return fmt.Errorf("read grants of the original user: %w", err)
	}
	cloneOpts, err := putClone(ctx, s, cloneAcct, cred)
	if err != nil {
		return err
	}
	if want, have := requireClause(orig), requireClause(cloneOpts); !strings.EqualFold(want, have) {
		if err := s.exec(ctx, "copy REQUIRE options to clone", statement{query: "ALTER USER " + cloneAcct + " REQUIRE " + want}); err != nil {
			return err
		}
	}
	cloneGrants, err := s.lines(ctx, "show clone's grants", "SHOW GRANTS FOR "+cloneAcct)
	if err != nil {
		return err
	}
	stmts, err := syncGrants(origGrants, cloneGrants, cloneAcct)
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

// putClone sets the clone's password, creating the clone when it does not
// exist, and returns its options as they were before (zero for a new one).
func putClone(ctx context.Context, s *session, cloneAcct string, cred credential) (userOptions, error) {
	cl, err := s.lines(ctx, "show clone", "SHOW CREATE USER "+cloneAcct)
	if err != nil {
		if !isNoSuchUser(err) {
			return userOptions{}, err
		}
		return userOptions{}, s.exec(ctx, "create clone", createUser(s.srv, cloneAcct, cred))
	}
	var opts userOptions
	if len(cl) > 0 {
		if opts, err = parseCreateUser(cl[0]); err != nil {
			return userOptions{}, fmt.Errorf("clone %s: %w", cloneAcct, err)
		}
	}
	return opts, s.exec(ctx, "set clone's password", alterPassword(s.srv, cloneAcct, cred))
}

// requireClause is an account's REQUIRE clause, "NONE" when it has none.
func requireClause(o userOptions) string {
	if o.Require == "" {
		return "NONE"
	}
	return o.Require
}
