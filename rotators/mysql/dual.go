package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/dbrotator"
	"github.com/rotary-secrets/rotary/rotators/mysql/internal/authhash"
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

func (r *DualPassword) set(ctx context.Context, req rotators.SetRequest) error {
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
		var as dbrotator.Version
		if s, as, err = r.loginChain(ctx, cur, pending, req.Previous); err != nil {
			return err
		}
		if as == dbrotator.Pending {
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
		if !errors.Is(err, ErrAuth) {
			return fmt.Errorf("log in as pending user: %w", err)
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
