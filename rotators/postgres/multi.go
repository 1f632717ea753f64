package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/postgres/internal/scram"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// MultiUser alternates between a user ("app") and its clone ("app_clone"):
// each rotation gives the user that is not AWSCURRENT a new password, set by
// the master user of the secret's masterarn, so AWSPREVIOUS keeps working
// until the next rotation.
//
// Privilege model (README.md): the clone is a member of the original role and
// its sessions start as the original role (ALTER ROLE clone SET role), so it
// has the original's privileges and memberships and every object either user
// creates is owned by the original. Every rotation that sets the clone
// re-applies both; one that sets the original checks the membership.
type MultiUser struct {
	*connector
}

var _ rotators.Rotator = (*MultiUser)(nil)

// EndpointResolver finds the endpoint of the database a master secret belongs
// to. It is for RDS-managed master secrets, which hold only a username and
// password: an implementation (awsx.RDSEndpoints) reads the secret's
// aws:rds:primaryDBInstanceArn or aws:rds:primaryDBClusterArn tag and asks the
// RDS API, so this package needs no AWS SDK. dbInstanceID and dbClusterID are
// the user secret's dbInstanceIdentifier and dbClusterIdentifier (either may be
// empty). An empty host with a nil error means the master secret is not
// RDS-managed: the master then logs in at the user secret's endpoint. The
// method uses plain types so that packages below rotators/ can implement it
// without importing this one.
type EndpointResolver interface {
	ResolveEndpoint(ctx context.Context, masterARN, dbInstanceID, dbClusterID string) (host string, port int, err error)
}

// NewMultiUser returns the alternating-users rotator.
func NewMultiUser(cfg Config) (*MultiUser, error) {
	c, err := newConnector(cfg)
	if err != nil {
		return nil, err
	}
	return &MultiUser{connector: c}, nil
}

// SetEndpointResolver installs the resolver for RDS-managed master secrets.
// Function start-up calls it once, before the first rotation, because the
// resolver needs the AWS clients that are built after the rotators.
func (r *MultiUser) SetEndpointResolver(e EndpointResolver) { r.cfg.Endpoints = e }

// checkMultiSecret adds the masterarn requirement to checkSecret.
func checkMultiSecret(v secret.Value) error {
	if err := checkSecret(v); err != nil {
		return err
	}
	return v.Require(secret.KeyMasterARN)
}

// Create returns the current value with the alternate user name and a new
// password. It does not touch the database.
func (r *MultiUser) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	if err := checkMultiSecret(req.Current); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("current secret: %w", err)
	}
	alt, err := Alternate(req.Current.Username)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("current secret: %w", err)
	}
	pending, err := newPending(ctx, r.cfg.Policy, req.Passwords, req.Current, alt)
	if err != nil {
		return rotators.CreateResponse{}, err
	}
	return rotators.CreateResponse{Pending: pending}, nil
}

// Set checks that the pending user is the current user's alternate on the same
// server and that the current credentials log in, then, as the master user and
// in one transaction, creates the clone or sets the pending user's password
// (a SCRAM verifier) and re-applies the clone's membership and role setting.
// Safe to call twice: a second call sets the same password again.
func (r *MultiUser) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	var master secret.Value
	var verifier string
	err := r.set(ctx, req, &master, &verifier)
	return rotators.SetResponse{}, scrub(err, []string{verifier}, req.Current, req.Pending, master)
}

func (r *MultiUser) set(ctx context.Context, req rotators.SetRequest, master *secret.Value, verifierOut *string) error {
	cur, pend := req.Current, req.Pending
	if err := checkMultiSecret(cur); err != nil {
		return fmt.Errorf("current secret: %w", err)
	}
	if err := checkMultiSecret(pend); err != nil {
		return fmt.Errorf("pending secret: %w", err)
	}
	alt, err := Alternate(cur.Username)
	if err != nil {
		return fmt.Errorf("current secret: %w", err)
	}
	if pend.Username != alt {
		return fmt.Errorf("%w: pending user %q is not the alternate of current user %q", ErrGuard, pend.Username, cur.Username)
	}
	if pend.MasterARN != cur.MasterARN {
		return fmt.Errorf("%w: pending secret's masterarn is not the current secret's", ErrGuard)
	}
	curEP, pendEP := endpointOf(cur), endpointOf(pend)
	if !pendEP.sameServer(curEP) || pendEP.db != curEP.db {
		return fmt.Errorf("%w: pending secret's server %s is not the current secret's %s", ErrGuard, pendEP, curEP)
	}
	verifier, err := scram.Generate(pend.Password)
	if err != nil {
		return fmt.Errorf("pending password: %w", err)
	}
	*verifierOut = verifier
	m, ok, err := loadMaster(ctx, req.Master)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("master secret (masterarn) not found")
	}
	*master = m
	masterEP, err := r.masterEndpoint(ctx, cur, m)
	if err != nil {
		return err
	}
	base, clone := pairOf(cur.Username)
	if m.Username == base || m.Username == clone {
		return fmt.Errorf("%w: the master user %q is one of the alternating users", ErrGuard, m.Username)
	}

	// Confused-deputy guard: only rotate a pair whose current credentials work.
	conn, err := r.connect(ctx, curEP, cur.Username, cur.Password)
	if errors.Is(err, ErrAuth) {
		return fmt.Errorf("%w: the current user's credentials do not log in, so the master user will not change user %q: %w", ErrGuard, pend.Username, err)
	}
	if err != nil {
		return fmt.Errorf("log in as current user: %w", err)
	}
	closeQuietly(conn)

	mconn, err := r.connect(ctx, masterEP, m.Username, m.Password)
	if err != nil {
		return fmt.Errorf("log in as master user: %w", err)
	}
	defer closeQuietly(mconn)
	if err := syncPair(ctx, mconn, base, clone, pend.Username, verifier); err != nil {
		return err
	}
	return nil
}

// loadMaster reads and checks the master secret.
func loadMaster(ctx context.Context, load rotators.Loader) (secret.Value, bool, error) {
	if load == nil {
		return secret.Value{}, false, nil
	}
	m, ok, err := load(ctx)
	if err != nil {
		return secret.Value{}, false, fmt.Errorf("read master secret: %w", err)
	}
	if !ok {
		return m, false, nil
	}
	if err := m.Require(secret.KeyUsername, secret.KeyPassword); err != nil {
		return m, false, fmt.Errorf("master secret: %w", err)
	}
	if err := checkUsername(secret.KeyUsername, m.Username); err != nil {
		return m, false, fmt.Errorf("master secret: %w", err)
	}
	if m.Engine != "" {
		if err := checkEngine(m.Engine); err != nil {
			return m, false, fmt.Errorf("master secret: %w", err)
		}
	}
	return m, true, nil
}

// masterEndpoint decides where the master user logs in: the master secret's
// own host when it has one (it must be the user secret's server), else the
// user secret's (an RDS-managed master secret has no host), checked against
// the Endpoints resolver when one is configured.
func (r *MultiUser) masterEndpoint(ctx context.Context, cur, m secret.Value) (endpoint, error) {
	curEP := endpointOf(cur)
	if m.Host != "" {
		mep := endpointOf(m)
		mep.db = curEP.db // the user's database, as AWS's template does
		if m.SSL == nil {
			mep.tls = curEP.tls
		}
		if !mep.sameServer(curEP) {
			return endpoint{}, fmt.Errorf("%w: the master secret's server %s is not the user secret's %s", ErrGuard, mep, curEP)
		}
		return mep, nil
	}
	if r.cfg.Endpoints != nil {
		host, port, err := r.cfg.Endpoints.ResolveEndpoint(ctx, cur.MasterARN, cur.DBInstanceIdentifier, cur.DBClusterIdentifier)
		if err != nil {
			return endpoint{}, fmt.Errorf("resolve the master secret's database endpoint: %w", err)
		}
		want := endpoint{host: host, port: port}
		if want.port == 0 {
			want.port = DefaultPort
		}
		if host != "" && !want.sameServer(curEP) {
			return endpoint{}, fmt.Errorf("%w: the master secret's database is at %s:%d, not the user secret's %s", ErrGuard, host, want.port, curEP)
		}
	}
	mep := curEP
	if m.SSL != nil {
		mep.tls = *m.SSL
	}
	return mep, nil
}

type roleInfo struct {
	exists, super, inherit bool
}

// syncPair runs, in one transaction as the master user: create the clone or
// set the pending user's password, then make the clone a member of the
// original and start its sessions as the original role (or as the role the
// original's own sessions start as).
func syncPair(ctx context.Context, conn *pgx.Conn, base, clone, pending, verifier string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("master: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()

	roles := map[string]*roleInfo{base: {}, clone: {}}
	rows, err := tx.Query(ctx, "SELECT rolname::text, rolsuper, rolinherit FROM pg_roles WHERE rolname = ANY($1)", []string{base, clone})
	if err != nil {
		return fmt.Errorf("master: look up roles: %w", err)
	}
	for rows.Next() {
		var name string
		var ri roleInfo
		if err := rows.Scan(&name, &ri.super, &ri.inherit); err != nil {
			rows.Close()
			return fmt.Errorf("master: look up roles: %w", err)
		}
		ri.exists = true
		roles[name] = &ri
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("master: look up roles: %w", err)
	}
	if !roles[base].exists {
		return fmt.Errorf("the original role %q does not exist", base)
	}
	for _, name := range []string{base, clone} {
		if roles[name].super {
			return fmt.Errorf("%w: role %q is a superuser; alternating-users rotation manages application roles only", ErrGuard, name)
		}
	}
	if pending == base && roles[clone].exists {
		// A clone this rotator made is a member of the original. Refuse to hand
		// the original's password to a look-alike "_clone" made by someone else.
		var member bool
		if err := tx.QueryRow(ctx, "SELECT pg_has_role($1, $2, 'MEMBER')", clone, base).Scan(&member); err != nil {
			return fmt.Errorf("master: check membership: %w", err)
		}
		if !member {
			return fmt.Errorf("%w: role %q is not a member of %q, so it was not made by this rotation; re-grant it (GRANT %s TO %s) if the pair is genuine",
				ErrGuard, clone, base, pgx.Identifier{base}.Sanitize(), pgx.Identifier{clone}.Sanitize())
		}
	}

	cloneIdent, baseIdent := pgx.Identifier{clone}.Sanitize(), pgx.Identifier{base}.Sanitize()
	var stmts []string
	if !roles[clone].exists {
		stmts = append(stmts, "CREATE ROLE "+cloneIdent+" LOGIN INHERIT PASSWORD '"+verifier+"'")
	} else {
		if !roles[clone].inherit {
			stmts = append(stmts, "ALTER ROLE "+cloneIdent+" INHERIT")
		}
		if pending == clone {
			stmts = append(stmts, "ALTER ROLE "+cloneIdent+" LOGIN PASSWORD '"+verifier+"'")
		}
	}
	if pending == base {
		stmts = append(stmts, "ALTER ROLE "+baseIdent+" LOGIN PASSWORD '"+verifier+"'")
	}
	stmts = append(stmts, "GRANT "+baseIdent+" TO "+cloneIdent)
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("master: %s: %w", firstWords(s), err)
		}
	}

	actAs, err := startRole(ctx, tx, base)
	if err != nil {
		return err
	}
	have, err := roleSetting(ctx, tx, clone)
	if err != nil {
		return err
	}
	if have != actAs {
		// Sessions of a clone made under AWS's model (no role setting) may have
		// created objects it owns; once it acts as the original it could no
		// longer use them. Refuse until they are handed over.
		var owned int
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid) + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)
			FROM pg_roles r WHERE r.rolname = $1`, clone).Scan(&owned); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("master: count objects owned by %q: %w", clone, err)
		}
		if owned > 0 {
			return fmt.Errorf("role %q owns %d tables, sequences, views or schemas in this database; hand them to the original first (REASSIGN OWNED BY %s TO %s, in each database), then rotate again: see the privilege model in rotators/postgres/README.md",
				clone, owned, cloneIdent, pgx.Identifier{base}.Sanitize())
		}
		if _, err := tx.Exec(ctx, "ALTER ROLE "+cloneIdent+" SET role = "+pgx.Identifier{actAs}.Sanitize()); err != nil {
			return fmt.Errorf("master: set the clone's role setting: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("master: commit: %w", err)
	}
	return nil
}

// startRole is the role the original's sessions act as: its own "role"
// setting, or itself.
func startRole(ctx context.Context, tx pgx.Tx, base string) (string, error) {
	r, err := roleSetting(ctx, tx, base)
	if err != nil {
		return "", err
	}
	if r == "" || strings.EqualFold(r, "none") {
		return base, nil
	}
	return r, nil
}

// roleSetting reads a role's database-independent "role" setting ("" if none).
func roleSetting(ctx context.Context, tx pgx.Tx, role string) (string, error) {
	var setting string
	err := tx.QueryRow(ctx, `SELECT coalesce((SELECT substr(c, 6) FROM pg_db_role_setting s, unnest(s.setconfig) c
		WHERE s.setdatabase = 0 AND s.setrole = (SELECT oid FROM pg_roles WHERE rolname = $1) AND c LIKE 'role=%' LIMIT 1), '')`, role).Scan(&setting)
	if err != nil {
		return "", fmt.Errorf("master: read role setting of %q: %w", role, err)
	}
	return setting, nil
}

// firstWords names a statement in errors without its password clause.
func firstWords(stmt string) string {
	if i := strings.Index(stmt, " PASSWORD "); i >= 0 {
		return stmt[:i]
	}
	return stmt
}

// Test logs in as the pending user and checks the session: the clone's must
// act as another role (the original), so its objects stay usable by both.
func (r *MultiUser) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	_, clone := pairOf(req.Pending.Username)
	err := testLogin(ctx, r.connector, req.Pending, req.Pending.Username == clone)
	return rotators.TestResponse{}, scrub(err, nil, req.Pending)
}

// Finish does nothing: the previous user keeps working until the next rotation.
func (r *MultiUser) Finish(context.Context, rotators.FinishRequest) (rotators.FinishResponse, error) {
	return rotators.FinishResponse{}, nil
}
