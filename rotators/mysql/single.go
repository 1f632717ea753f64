package mysql

import (
	"context"
	"fmt"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/dbrotator"
)

// SingleUser rotates the password of the secret's own user, logged in as that
// user (SET PASSWORD on MariaDB, ALTER USER CURRENT_USER() on MySQL), sent
// pre-hashed where the server allows it. The old password stops working as
// soon as setSecret runs. Happy path: two logins (setSecret as the current
// user, testSecret as the pending one), no failed login. It holds no secret
// between calls and is safe for concurrent use.
type SingleUser struct {
	*connector
}

var _ rotators.Rotator = (*SingleUser)(nil)

// NewSingleUser returns the single-user rotator.
func NewSingleUser(cfg Config) *SingleUser { return &SingleUser{connector: newConnector(cfg)} }

// Create returns the current value with a new password. It does not touch
// the server. Safe to call twice.
func (r *SingleUser) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	if err := checkUserSecret(req.Current); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	pending, err := r.newPending(ctx, req.Passwords, req.Current, req.Current.Username)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	return rotators.CreateResponse{Pending: pending}, nil
}

// Set makes the pending password the user's, logged in with the current
// password, else the pending one (set by an earlier try: nothing to do), else
// the previous one. Safe to call twice.
func (r *SingleUser) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	if err := checkSet(req, req.Current.Username); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	if err := r.set(ctx, req); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	return rotators.SetResponse{}, nil
}

// Test logs in with the pending value and checks the server sees the
// expected user. It changes nothing.
func (r *SingleUser) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	return r.test(ctx, req)
}

func (r *SingleUser) set(ctx context.Context, req rotators.SetRequest) error {
	s, as, err := r.loginChain(ctx, req.Current, req.Pending, req.Previous)
	if err != nil {
		return err
	}
	defer s.close()
	if as == dbrotator.Pending {
		return nil // already set by an earlier attempt
	}
	if h, ok := req.Current.Get(KeyAccountHost); ok {
		// testSecret would refuse the account afterwards; refuse it before
		// its password changes.
		if _, host, err := s.currentUser(ctx); err != nil {
			return err
		} else if host != h {
			return fmt.Errorf("%w: %s %q is not the host of the account the current credentials log in as (%q)", ErrGuard, KeyAccountHost, h, host)
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
