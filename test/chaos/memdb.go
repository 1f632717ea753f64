package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// MemEngine is the engine key of the in-memory database.
const MemEngine = "memdb"

// ErrDenied is MemDB's refused login.
var ErrDenied = errors.New("memdb: password authentication failed")

// ErrDropped is MemDB's dropped connection.
var ErrDropped = errors.New("memdb: connection dropped")

// MemDB is an in-memory database of users and passwords with the fault points
// of a real one: a connection can drop just before or just after the password
// statement. It lets the chaos framework be proven in milliseconds; the
// PostgreSQL and MariaDB suites repeat the same schedules on real servers.
type MemDB struct {
	mu     sync.Mutex
	users  map[string]string
	when   When
	fired  int
	logins int
}

// NewMemDB returns a database with one user.
func NewMemDB(user, pw string) *MemDB {
	return &MemDB{users: map[string]string{user: pw}}
}

// Authenticates implements Target.
func (m *MemDB) Authenticates(_ context.Context, v secret.Value) (bool, error) {
	return m.login(v.Username, v.Password) == nil, nil
}

// Users implements Target.
func (m *MemDB) Users(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for u := range m.users {
		out = append(out, u)
	}
	return out, nil
}

// Arm makes the next password statement drop the connection (the trigger
// is ignored: the in-memory database has one password statement).
func (m *MemDB) Arm(_ string, w When) func() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.when = w
	return func() int {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.fired
	}
}

func (m *MemDB) login(user, pw string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.logins++
	if have, ok := m.users[user]; !ok || have != pw || pw == "" {
		return ErrDenied
	}
	return nil
}

// alter sets user's password, with the armed fault if any.
func (m *MemDB) alter(user, pw string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.when
	m.when = 0
	if w == Before {
		m.fired++
		return ErrDropped
	}
	m.users[user] = pw
	if w == After {
		m.fired++
		return ErrDropped
	}
	return nil
}

// MemRotator is a single-user rotator for MemDB written like the real ones:
// Create touches nothing; Set logs in with the current, then the pending,
// then the previous password and changes the password; Test logs in.
type MemRotator struct {
	DB *MemDB
}

var _ rotators.Rotator = (*MemRotator)(nil)

// Create returns the current value with a new password.
func (r *MemRotator) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	pw, err := req.Passwords.Generate(ctx, password.Default(""))
	if err != nil {
		return rotators.CreateResponse{}, err
	}
	p := req.Current.Clone()
	p.Password = pw
	return rotators.CreateResponse{Pending: p}, nil
}

// Set makes the pending password the user's. Safe to call twice.
func (r *MemRotator) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	cur, pend := req.Current, req.Pending
	if pend.Username != cur.Username {
		return rotators.SetResponse{}, errors.New("memdb: pending user is not the current user")
	}
	if r.DB.login(cur.Username, cur.Password) != nil {
		if r.DB.login(pend.Username, pend.Password) == nil {
			return rotators.SetResponse{}, nil
		}
		prev, ok, err := req.Previous(ctx)
		if err != nil {
			return rotators.SetResponse{}, err
		}
		if !ok || r.DB.login(prev.Username, prev.Password) != nil {
			return rotators.SetResponse{}, fmt.Errorf("memdb: no stored version of user %q logs in", cur.Username)
		}
	}
	return rotators.SetResponse{}, r.DB.alter(pend.Username, pend.Password)
}

// Test logs in with the pending value.
func (r *MemRotator) Test(_ context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	return rotators.TestResponse{}, r.DB.login(req.Pending.Username, req.Pending.Password)
}

// Broken is a deliberately broken rotator: its Create changes the password on
// the target before the engine has stored it, which breaks AWSCURRENT until
// finishSecret and, when the store fails, leaves a credential no stored version
// holds. The chaos checker must catch it.
type Broken struct {
	rotators.Rotator
	// Change applies a password to the target directly.
	Change func(ctx context.Context, user, pw string) error
}

// Create generates the pending value and, wrongly, applies it at once.
func (b *Broken) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	resp, err := b.Rotator.Create(ctx, req)
	if err != nil {
		return resp, err
	}
	if err := b.Change(ctx, resp.Pending.Username, resp.Pending.Password); err != nil {
		return resp, fmt.Errorf("broken create: %w", err)
	}
	return resp, nil
}

// noTarget is the target of a secret that lives only in Secrets Manager (the
// generic engine): a value authenticates when it holds a password.
// NoTarget is the target of a secret that lives only in Secrets Manager (the
// generic engine): a value authenticates when it holds a password.
var NoTarget Target = noTarget{}

type noTarget struct{}

func (noTarget) Authenticates(_ context.Context, v secret.Value) (bool, error) {
	return strings.TrimSpace(v.Password) != "", nil
}

func (noTarget) Users(context.Context) ([]string, error) { return nil, nil }

// Force sets user's password directly, as an administrator would.
func (m *MemDB) Force(user, pw string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[user] = pw
}
