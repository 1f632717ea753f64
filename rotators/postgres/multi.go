package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/dbrotator"
	"github.com/rotary-secrets/rotary/rotators/postgres/internal/scram"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// MultiUser alternates between a user ("app") and its clone ("app_clone"):
// each rotation gives the user that is not AWSCURRENT a new password, set by
// the master user of the secret's masterarn, so AWSPREVIOUS keeps working
// until the next rotation.
//
// Where the master password goes is pinned by the master secret (its host,
// or the RDS endpoint the EndpointResolver finds for it); the user secret
// must name that server. An existing clone that is not exactly a clone (see
// checkClone) is refused and left untouched.
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

// EndpointResolver finds the endpoint of the database an RDS-managed master
// secret belongs to: rotators.EndpointResolver, the one resolver every
// database engine shares (start-up passes it in Config.Endpoints, from
// rotators.Deps). An empty host with a nil error means the master secret is
// not RDS-managed: the rotation is then refused (ErrMasterEndpoint), as on an
// error.
type EndpointResolver = rotators.EndpointResolver

// NewMultiUser returns the alternating-users rotator.
func NewMultiUser(cfg Config) (*MultiUser, error) {
	c, err := newConnector(cfg)
	if err != nil {
		return nil, err
	}
	return &MultiUser{connector: c}, nil
}

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
	curEP, err := checkMultiSet(cur, pend)
	if err != nil {
		return err
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
	base, clone := pairOf(cur.Username)
	if m.Username == base || m.Username == clone {
		return fmt.Errorf("%w: the master user %q is one of the alternating users", ErrGuard, m.Username)
	}
	masterEP, err := r.masterEndpoint(ctx, req.Token, cur, m)
	if err != nil {
		return err
	}
	if err := r.proveCurrent(ctx, curEP, cur, pend); err != nil {
		return err
	}
	mconn, err := r.connect(ctx, masterEP, m.Username, m.Password)
	if err != nil {
		return fmt.Errorf("log in as master user: %w", err)
	}
	defer closeQuietly(mconn)
	// One transaction per attempt, bounded like one statement (it is a few
	// catalog reads and writes); conflicts are retried within ctx.
	return withRetry(ctx, &r.counters, func(ctx context.Context) error {
		ctx, cancel := r.bound(ctx)
		defer cancel()
		return r.noAnswer(syncPair(ctx, mconn, base, clone, pend.Username, verifier))
	})
}

// checkMultiSet checks, before any connection, that the pending value is the
// current user's alternate with the same masterarn, on the same server and
// database, and returns the current value's endpoint.
func checkMultiSet(cur, pend secret.Value) (endpoint, error) {
	if err := checkMultiSecret(cur); err != nil {
		return endpoint{}, fmt.Errorf("current secret: %w", err)
	}
	if err := checkMultiSecret(pend); err != nil {
		return endpoint{}, fmt.Errorf("pending secret: %w", err)
	}
	alt, err := Alternate(cur.Username)
	if err != nil {
		return endpoint{}, fmt.Errorf("current secret: %w", err)
	}
	if pend.Username != alt {
		return endpoint{}, fmt.Errorf("%w: pending user %q is not the alternate of current user %q", ErrGuard, pend.Username, cur.Username)
	}
	if pend.MasterARN != cur.MasterARN {
		return endpoint{}, fmt.Errorf("%w: pending secret's masterarn is not the current secret's", ErrGuard)
	}
	curEP, pendEP := endpointOf(cur), endpointOf(pend)
	if !pendEP.sameServer(curEP) || pendEP.db != curEP.db {
		return endpoint{}, fmt.Errorf("%w: pending secret's server %s is not the current secret's %s", ErrGuard, pendEP, curEP)
	}
	return curEP, nil
}

// proveCurrent is the confused-deputy guard: the master changes only a pair
// whose current credentials log in.
func (r *MultiUser) proveCurrent(ctx context.Context, curEP endpoint, cur, pend secret.Value) error {
	conn, err := r.connect(ctx, curEP, cur.Username, cur.Password)
	if errors.Is(err, ErrAuth) {
		return fmt.Errorf("%w: the current user's credentials do not log in, so the master user will not change user %q: %w", ErrGuard, pend.Username, err)
	}
	if err != nil {
		return fmt.Errorf("log in as current user: %w", err)
	}
	closeQuietly(conn)
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

// masterEndpoint decides where the master credential may be sent
// (dbrotator.MasterEndpoint: the master secret's own server, or its RDS
// endpoint; the user secret must name the same). TLS comes from the master
// secret's own "ssl" key (absent: verify-full), never from the user
// secret's; the database is the user's, as AWS's template does.
func (r *MultiUser) masterEndpoint(ctx context.Context, token string, cur, m secret.Value) (endpoint, error) {
	at, err := dbrotator.MasterEndpoint(ctx, r.cfg.Endpoints, token, cur, m, DefaultPort)
	if err != nil {
		return endpoint{}, err
	}
	mep := endpointOf(m)
	mep.host, mep.port, mep.db = at.Host, at.Port, endpointOf(cur).db
	return mep, nil
}

type roleInfo struct {
	exists, super, inherit bool
}

// syncPair runs, in one transaction as the master user: create the clone or
// set the pending user's password, then make the clone a member of the
// original and start its sessions as the original role (or as the role the
// original's own sessions start as). Nothing is changed unless the pair
// passes checkPair.
func syncPair(ctx context.Context, conn *pgx.Conn, base, clone, pending, verifier string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("master: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()

	roles, err := lookupRoles(ctx, tx, base, clone)
	if err != nil {
		return err
	}
	if err := checkPair(ctx, tx, roles, base, clone, pending); err != nil {
		return err
	}
	for _, s := range pairStatements(roles, base, clone, pending, verifier) {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("master: %s: %w", firstWords(s), err)
		}
	}
	if err := setCloneRole(ctx, tx, base, clone); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("master: commit: %w", err)
	}
	return nil
}

// lookupRoles reads the attributes of the pair's roles; a role that does not
// exist has the zero roleInfo.
func lookupRoles(ctx context.Context, tx pgx.Tx, base, clone string) (map[string]*roleInfo, error) {
	roles := map[string]*roleInfo{base: {}, clone: {}}
	rows, err := tx.Query(ctx, "SELECT rolname::text, rolsuper, rolinherit FROM pg_roles WHERE rolname = ANY($1)", []string{base, clone})
	if err != nil {
		return nil, fmt.Errorf("master: look up roles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var ri roleInfo
		if err := rows.Scan(&name, &ri.super, &ri.inherit); err != nil {
			return nil, fmt.Errorf("master: look up roles: %w", err)
		}
		ri.exists = true
		roles[name] = &ri
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("master: look up roles: %w", err)
	}
	return roles, nil
}

// checkPair refuses a pair this rotation must not touch, before anything is
// changed: no original, a superuser, an existing clone that is not exactly a
// clone (checkClone), or, when the original's password is to be set, a clone
// that is not a member of the original (a look-alike "_clone" made by
// someone else).
func checkPair(ctx context.Context, tx pgx.Tx, roles map[string]*roleInfo, base, clone, pending string) error {
	if !roles[base].exists {
		return fmt.Errorf("the original role %q does not exist", base)
	}
	for _, name := range []string{base, clone} {
		if roles[name].super {
			return fmt.Errorf("%w: role %q is a superuser; alternating-users rotation manages application roles only", ErrGuard, name)
		}
	}
	if !roles[clone].exists {
		return nil
	}
	if err := checkClone(ctx, tx, base, clone); err != nil {
		return err
	}
	if pending != base {
		return nil
	}
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
	return nil
}

// pairStatements are the changes that give the pending user its password
// (a SCRAM verifier) and make the clone an inheriting member of the original.
func pairStatements(roles map[string]*roleInfo, base, clone, pending, verifier string) []string {
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
	return append(stmts, "GRANT "+baseIdent+" TO "+cloneIdent)
}

// setCloneRole makes the clone's sessions start as the role the original's
// do, unless they already do.
func setCloneRole(ctx context.Context, tx pgx.Tx, base, clone string) error {
	actAs, err := startRole(ctx, tx, base)
	if err != nil {
		return err
	}
	have, err := roleSetting(ctx, tx, clone)
	if err != nil {
		return err
	}
	if have == actAs {
		return nil
	}
	if _, err := tx.Exec(ctx, "ALTER ROLE "+pgx.Identifier{clone}.Sanitize()+" SET role = "+pgx.Identifier{actAs}.Sanitize()); err != nil {
		return fmt.Errorf("master: set the clone's role setting: %w", err)
	}
	return nil
}

// checkClone refuses (ErrCloneMismatch) an existing clone that is not exactly
// what this rotator makes of it, before anything is changed: a clone must
// have no power of its own beyond the original's, because the rotation gives
// it a password the secret's reader knows and makes it a member of the
// original. Exactly a clone means:
//   - no role attribute the original lacks (CREATEROLE, CREATEDB,
//     REPLICATION, BYPASSRLS; SUPERUSER is refused for both anyway);
//   - the original's connection limit, or none;
//   - member only of the original (without ADMIN OPTION) and of roles the
//     original is a member of (with ADMIN OPTION only where the original has
//     it);
//   - no members of its own, except the master user and other roles with
//     CREATEROLE or SUPERUSER (which can set its password anyway; PostgreSQL
//     16 makes the creator of a role such a member);
//   - owns nothing and is granted nothing directly (no object, default
//     privilege, privilege or row-security policy naming it, in any database:
//     pg_shdepend).
func checkClone(ctx context.Context, tx pgx.Tx, base, clone string) error {
	var problems []string
	for _, check := range []func(context.Context, pgx.Tx, string, string) (string, error){cloneAttributes, cloneMemberships, cloneMembers} {
		problem, err := check(ctx, tx, base, clone)
		if err != nil {
			return err
		}
		if problem != "" {
			problems = append(problems, problem)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: role %q: %s; it is left untouched: drop it (DROP ROLE %s) if it is not needed, or make it a plain member of %q, then rotate again",
			ErrCloneMismatch, clone, strings.Join(problems, "; "), pgx.Identifier{clone}.Sanitize(), base)
	}
	return cloneHoldsNothing(ctx, tx, base, clone)
}

// cloneAttributes names the role attributes the clone has and the original
// lacks, and a connection limit other than the original's or none ("" when
// there is no such problem).
func cloneAttributes(ctx context.Context, tx pgx.Tx, base, clone string) (string, error) {
	var cloneLimit, baseLimit int
	var createRole, createDB, replication, bypassRLS bool
	err := tx.QueryRow(ctx, `SELECT c.rolcreaterole AND NOT b.rolcreaterole, c.rolcreatedb AND NOT b.rolcreatedb,
		c.rolreplication AND NOT b.rolreplication, c.rolbypassrls AND NOT b.rolbypassrls, c.rolconnlimit, b.rolconnlimit
		FROM pg_roles c, pg_roles b WHERE c.rolname = $1 AND b.rolname = $2`, clone, base).
		Scan(&createRole, &createDB, &replication, &bypassRLS, &cloneLimit, &baseLimit)
	if err != nil {
		return "", fmt.Errorf("master: read the attributes of %q: %w", clone, err)
	}
	var problems, extraAttrs []string
	for _, a := range []struct {
		has  bool
		name string
	}{{createRole, "CREATEROLE"}, {createDB, "CREATEDB"}, {replication, "REPLICATION"}, {bypassRLS, "BYPASSRLS"}} {
		if a.has {
			extraAttrs = append(extraAttrs, a.name)
		}
	}
	if len(extraAttrs) > 0 {
		problems = append(problems, "it has "+strings.Join(extraAttrs, ", ")+", which the original lacks")
	}
	if cloneLimit != -1 && cloneLimit != baseLimit {
		problems = append(problems, fmt.Sprintf("its connection limit is %d, the original's %d", cloneLimit, baseLimit))
	}
	return strings.Join(problems, "; "), nil
}

// cloneMemberships names the roles the clone is a member of beyond the
// original (without ADMIN OPTION) and the roles the original is a member of
// (with ADMIN OPTION only where the original has it).
func cloneMemberships(ctx context.Context, tx pgx.Tx, base, clone string) (string, error) {
	var extraRoles []string
	rows, err := tx.Query(ctx, `SELECT g.rolname::text, m.admin_option
		FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
		WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1)
		AND NOT CASE WHEN g.rolname = $2 THEN NOT m.admin_option
			ELSE pg_has_role($2, g.oid, 'MEMBER') AND (NOT m.admin_option OR pg_has_role($2, g.oid, 'MEMBER WITH ADMIN OPTION')) END
		ORDER BY 1`, clone, base)
	if err == nil {
		var name string
		var admin bool
		_, err = pgx.ForEachRow(rows, []any{&name, &admin}, func() error {
			if admin {
				name = strconv.Quote(name) + " WITH ADMIN OPTION"
			} else {
				name = strconv.Quote(name)
			}
			extraRoles = append(extraRoles, name)
			return nil
		})
	}
	if err != nil {
		return "", fmt.Errorf("master: read the memberships of %q: %w", clone, err)
	}
	if len(extraRoles) == 0 {
		return "", nil
	}
	return "it is a member of " + strings.Join(extraRoles, ", ") + ", which the original is not", nil
}

// cloneMembers names the clone's members other than the master user and
// roles with CREATEROLE or SUPERUSER (which can set its password anyway).
func cloneMembers(ctx context.Context, tx pgx.Tx, _, clone string) (string, error) {
	var members []string
	err := queryStrings(ctx, tx, &members, `SELECT r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
		WHERE m.roleid = (SELECT oid FROM pg_roles WHERE rolname = $1)
		AND r.rolname <> current_user AND NOT r.rolsuper AND NOT r.rolcreaterole ORDER BY 1`, clone)
	if err != nil {
		return "", fmt.Errorf("master: read the members of %q: %w", clone, err)
	}
	if len(members) == 0 {
		return "", nil
	}
	return quoteList(members) + " would gain the original's privileges through their membership in it", nil
}

// cloneHoldsNothing refuses a clone that owns objects or holds privileges or
// row-security policies of its own, in any database (pg_shdepend).
func cloneHoldsNothing(ctx context.Context, tx pgx.Tx, base, clone string) error {
	var owned, granted int
	err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE deptype = 'o'), count(*) FILTER (WHERE deptype IN ('a', 'r'))
		FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass AND refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)`, clone).
		Scan(&owned, &granted)
	if err != nil {
		return fmt.Errorf("master: read what %q owns: %w", clone, err)
	}
	cloneIdent, baseIdent := pgx.Identifier{clone}.Sanitize(), pgx.Identifier{base}.Sanitize()
	if owned > 0 {
		// Typically a clone made under AWS's model, whose sessions created
		// objects: once it acts as the original it could no longer use them.
		return fmt.Errorf("%w: role %q owns %d objects (tables, sequences, views, schemas, … in any database); hand them to the original first (REASSIGN OWNED BY %s TO %s, in each database), then rotate again: see the privilege model in rotators/postgres/README.md",
			ErrCloneMismatch, clone, owned, cloneIdent, baseIdent)
	}
	if granted > 0 {
		return fmt.Errorf("%w: role %q holds %d privileges or row-security policies of its own (in any database); grant them to %q instead and revoke them from the clone, then rotate again",
			ErrCloneMismatch, clone, granted, base)
	}
	return nil
}

// queryStrings appends the single text column of sql's rows to out.
func queryStrings(ctx context.Context, tx pgx.Tx, out *[]string, sql string, args ...any) error {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	v, err := pgx.CollectRows(rows, pgx.RowTo[string])
	*out = v
	return err
}

// quoteList names roles in an error.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
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
