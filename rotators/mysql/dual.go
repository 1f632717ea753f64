package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/dbrotator"
	"github.com/rotary-secrets/rotary/rotators/mysql/internal/authhash"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// DualPassword keeps the old password valid as the secondary password (MySQL
// 8.0.14+ RETAIN CURRENT PASSWORD), so one user rotates with zero downtime;
// refused on servers without it (MariaDB). It changes the account as the
// master user when the secret has masterarn, else as the user itself (which
// then needs the APPLICATION_PASSWORD_ADMIN privilege). It holds no secret
// between calls and is safe for concurrent use.
type DualPassword struct {
	*connector
}

var _ rotators.Rotator = (*DualPassword)(nil)

// NewDualPassword returns the dual-password rotator.
func NewDualPassword(cfg Config) *DualPassword { return &DualPassword{connector: newConnector(cfg)} }

// Create returns the current value with a new password; it refuses a
// MariaDB secret (no dual passwords). It does not touch the server. Safe to
// call twice.
func (r *DualPassword) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	cur := req.Current
	if err := checkUserSecret(cur); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	if strings.EqualFold(cur.Engine, "mariadb") {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w (engine is mariadb)", ErrDualPasswordUnsupported)
	}
	pending, err := r.newPending(ctx, req.Passwords, cur, cur.Username)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	return rotators.CreateResponse{Pending: pending}, nil
}

// Set makes the pending password the primary and keeps the current one as
// the secondary. Safe to call twice: a second call finds the pending
// password already primary and changes nothing (repeating the statements
// would discard AWSCURRENT, by then the secondary).
func (r *DualPassword) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
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
func (r *DualPassword) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	return r.test(ctx, req)
}

// set logs in (login), asks whether the pending password already is the
// primary (pendingIsPrimary), and if not makes it so, keeping the current
// one as the secondary.
func (r *DualPassword) set(ctx context.Context, req rotators.SetRequest) error {
	s, acct, done, err := r.login(ctx, req)
	if err != nil || done {
		return err
	}
	defer s.close()
	if !s.srv.dualPassword() {
		return fmt.Errorf("%w (server is %s)", ErrDualPasswordUnsupported, s.srv)
	}
	if primary, err := r.pendingIsPrimary(ctx, s, acct, req.Current, req.Pending); err != nil || primary {
		return err
	}
	stmts, err := dualPasswordStatements(s.srv, acct, req.Pending.Password)
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

// login opens the session that changes the account, and names the account:
// as the master (on the host the current credentials log in on) when the
// secret has masterarn, else as the user itself (CURRENT_USER()), through
// the login chain. done means the pending password logged in as the user:
// it is already the primary, and there is no session.
func (r *DualPassword) login(ctx context.Context, req rotators.SetRequest) (s *session, acct string, done bool, err error) {
	cur, pending := req.Current, req.Pending
	if cur.MasterARN != "" {
		s, host, err := r.connectMaster(ctx, req.Token, cur, pending, req.Master)
		if err != nil {
			return nil, "", false, err
		}
		return s, account(cur.Username, host), false, nil
	}
	s, as, err := r.loginChain(ctx, cur, pending, req.Previous)
	if err != nil {
		return nil, "", false, err
	}
	if as == dbrotator.Pending {
		s.close()
		return nil, "", true, nil // pending is already the primary password
	}
	return s, "CURRENT_USER()", false, nil
}

// pendingIsPrimary reports whether the account's primary password already is
// the pending one. The current password logs in both before and after this
// step (it becomes the secondary), so the answer comes from the stored hash
// when it can be read and checked here, else from a login with the pending
// password.
func (r *DualPassword) pendingIsPrimary(ctx context.Context, s *session, acct string, cur, pending secret.Value) (bool, error) {
	if lines, err := s.lines(ctx, "show account", "SHOW CREATE USER "+acct); err == nil && len(lines) > 0 {
		if o, err := parseCreateUser(lines[0]); err == nil && (authhash.IsNative(o.Hash) || strings.HasPrefix(o.Hash, "$A$")) {
			return storedMatches(o, pending.Password), nil
		}
	}
	// Repeating the statements would discard AWSCURRENT (now the
	// secondary), so ask the server: if the pending password logs in, it is
	// the primary.
	e, err := endpointOf(pending)
	if err != nil {
		return false, err
	}
	ps, err := r.connect(ctx, e, cur.Username, pending.Password, cur.Password)
	if err == nil {
		ps.close()
		return true, nil
	}
	if !errors.Is(err, ErrAuth) {
		return false, fmt.Errorf("log in as pending user: %w", err)
	}
	return false, nil
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
