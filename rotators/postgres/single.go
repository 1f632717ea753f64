package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/dbrotator"
	"github.com/rotary-secrets/rotary/rotators/postgres/internal/scram"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// SingleUser rotates the password of the secret's own user, logged in as that
// user. The old password stops working as soon as setSecret runs. Happy path:
// two logins (setSecret as the current user, testSecret as the pending one),
// no failed login.
type SingleUser struct {
	*connector
}

var _ rotators.Rotator = (*SingleUser)(nil)

// NewSingleUser returns the single-user rotator.
func NewSingleUser(cfg Config) (*SingleUser, error) {
	c, err := newConnector(cfg)
	if err != nil {
		return nil, err
	}
	return &SingleUser{connector: c}, nil
}

// Create returns the current value with a new password. It does not touch the
// database. Safe to call twice (the engine stores only one result).
func (r *SingleUser) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	if err := checkSecret(req.Current); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("current secret: %w", err)
	}
	pending, err := newPending(ctx, r.cfg.Policy, req.Passwords, req.Current, req.Current.Username)
	if err != nil {
		return rotators.CreateResponse{}, err
	}
	return rotators.CreateResponse{Pending: pending}, nil
}

// newPending copies current with a new password (every other key kept).
func newPending(ctx context.Context, policy password.Policy, gen password.Generator, current secret.Value, username string) (secret.Value, error) {
	if gen == nil {
		gen = password.Local{}
	}
	pw, err := gen.Generate(ctx, policy)
	if err != nil {
		return secret.Value{}, fmt.Errorf("generate password: %w", err)
	}
	if _, err := scram.New(pw, []byte("check"), 1); err != nil {
		return secret.Value{}, fmt.Errorf("generated password: %w", err)
	}
	pending := current.Clone()
	pending.Username = username
	pending.Password = pw
	return pending, nil
}

// Set makes the pending password the user's, logged in as the current user;
// if the current password is refused, as the pending user (already set by an
// earlier try: nothing to do); then as the previous one (dbrotator.LoginChain:
// only a refused password moves on to the next version; TLS and network
// errors stop at once). Safe to call twice.
func (r *SingleUser) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	var verifier string
	var previous secret.Value
	err := r.set(ctx, req, &verifier, &previous)
	return rotators.SetResponse{}, scrub(err, []string{verifier}, req.Current, req.Pending, previous)
}

func (r *SingleUser) set(ctx context.Context, req rotators.SetRequest, verifierOut *string, previousOut *secret.Value) error {
	cur, pend := req.Current, req.Pending
	if err := checkSecret(cur); err != nil {
		return fmt.Errorf("current secret: %w", err)
	}
	if err := checkSecret(pend); err != nil {
		return fmt.Errorf("pending secret: %w", err)
	}
	if pend.Username != cur.Username {
		return fmt.Errorf("%w: pending user %q is not the current user %q", ErrGuard, pend.Username, cur.Username)
	}
	curEP, pendEP := endpointOf(cur), endpointOf(pend)
	if !pendEP.sameServer(curEP) {
		return fmt.Errorf("%w: pending secret's server %s is not the current secret's %s", ErrGuard, pendEP, curEP)
	}
	verifier, err := scram.Generate(pend.Password)
	if err != nil {
		return fmt.Errorf("pending password: %w", err)
	}
	*verifierOut = verifier

	conn, as, err := dbrotator.LoginChain(ctx, dbrotator.Logins[*pgx.Conn]{
		User: cur.Username,
		Current: func(ctx context.Context) (*pgx.Conn, error) {
			return r.connect(ctx, curEP, cur.Username, cur.Password)
		},
		Pending: func(ctx context.Context) (*pgx.Conn, error) {
			return r.connect(ctx, pendEP, pend.Username, pend.Password)
		},
		Previous: func(ctx context.Context) (*pgx.Conn, error) {
			return r.connectPrevious(ctx, req, curEP, previousOut)
		},
	})
	if err != nil {
		return err
	}
	if as == dbrotator.Pending {
		closeQuietly(conn)
		return nil // an earlier try already set the pending password
	}
	defer closeQuietly(conn)
	err = withRetry(ctx, &r.counters, func(ctx context.Context) error {
		return r.alterPassword(ctx, conn, pend.Username, verifier)
	})
	if err != nil {
		return fmt.Errorf("set pending password: %w", err)
	}
	return nil
}

// connectPrevious logs in with AWSPREVIOUS (for a password that was rolled
// back), with the previous secret's own TLS setting: a login's TLS comes only
// from the secret whose password it carries. A previous secret for another
// user or server is not used (dbrotator.NoPrevious).
func (r *SingleUser) connectPrevious(ctx context.Context, req rotators.SetRequest, curEP endpoint, previousOut *secret.Value) (*pgx.Conn, error) {
	if req.Previous == nil {
		return nil, dbrotator.NoPrevious("")
	}
	prev, ok, err := req.Previous(ctx)
	if err != nil {
		return nil, fmt.Errorf("read previous secret: %w", err)
	}
	if !ok {
		return nil, dbrotator.NoPrevious("")
	}
	*previousOut = prev
	if err := checkSecret(prev); err != nil || prev.Username != req.Pending.Username {
		return nil, dbrotator.NoPrevious("the previous secret is not for the same user")
	}
	prevEP := endpointOf(prev)
	if !prevEP.sameServer(curEP) {
		return nil, dbrotator.NoPrevious("the previous secret is for another server")
	}
	return r.connect(ctx, prevEP, prev.Username, prev.Password)
}

// alterPassword sends ALTER ROLE with a SCRAM verifier: the plaintext never
// reaches the server. The verifier is base64 and '$', ':' only, so it is safe
// in a literal.
func (c *connector) alterPassword(ctx context.Context, conn *pgx.Conn, role, verifier string) error {
	return c.execSimple(ctx, conn, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" PASSWORD '"+verifier+"'")
}

// Test logs in as the pending user and runs a query. It changes nothing.
func (r *SingleUser) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	err := testLogin(ctx, r.connector, req.Pending, false)
	return rotators.TestResponse{}, scrub(err, nil, req.Pending)
}

// testLogin logs in as v's user and checks the session's user name (and, with
// actsAsOther, that the session starts as another role).
func testLogin(ctx context.Context, c *connector, v secret.Value, actsAsOther bool) error {
	if err := checkSecret(v); err != nil {
		return fmt.Errorf("pending secret: %w", err)
	}
	conn, err := c.connect(ctx, endpointOf(v), v.Username, v.Password)
	if err != nil {
		return fmt.Errorf("log in as pending user: %w", err)
	}
	defer closeQuietly(conn)
	ctx, cancel := c.bound(ctx)
	defer cancel()
	var sessionUser, currentUser string
	if err := conn.QueryRow(ctx, "SELECT session_user::text, current_user::text").Scan(&sessionUser, &currentUser); err != nil {
		return fmt.Errorf("query as pending user: %w", c.noAnswer(err))
	}
	if sessionUser != v.Username {
		return fmt.Errorf("%w: logged in as %q but the session user is %q", ErrGuard, v.Username, sessionUser)
	}
	if actsAsOther && currentUser == sessionUser {
		return fmt.Errorf("pending user %q acts as itself, not as the original role: its role setting is missing, so objects it creates would not be usable by the other user", v.Username)
	}
	return nil
}
