package chaos_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/mysql"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/chaos"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func splitAddr(t testing.TB, addr string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return host, port
}

// proxied points v at a fault proxy in front of addr, without TLS (the proxy
// must read the statements).
func proxied(t testing.TB, v *secret.Value, addr string) *dbtest.FaultProxy {
	t.Helper()
	p := dbtest.NewFaultProxy(t, addr)
	v.Host, v.Port = splitAddr(t, p.Addr)
	off := false
	v.SSL = &off
	return p
}

func armProxy(p *dbtest.FaultProxy) func(string, chaos.When) func() int {
	return func(trigger string, w chaos.When) func() int { return p.Arm(trigger, proxyWhen(w), nil) }
}

// pgTarget checks logins directly against the server, not through the proxy.
type pgTarget struct {
	pg    *dbtest.Postgres
	super *pgx.Conn // for Users; observations are sequential
	users []string
}

func (p *pgTarget) Authenticates(ctx context.Context, v secret.Value) (bool, error) {
	c, err := p.pg.TryConnect(ctx, v.Username, v.Password)
	if err == nil {
		_ = c.Close(context.Background())
		return true, nil
	}
	if dbtest.IsAuthFailure(err) {
		return false, nil
	}
	return false, err
}

func (p *pgTarget) Users(ctx context.Context) ([]string, error) {
	rows, err := p.super.Query(ctx, "SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1)", p.users)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func pgStrategy(alternating bool, pre int) chaos.Strategy {
	name := "postgres-single"
	triggers := []string{"ALTER ROLE"}
	if alternating {
		name = "postgres-alternating"
		triggers = []string{"PASSWORD '", "commit"}
	}
	if pre > 0 {
		name += "-later"
	}
	return chaos.Strategy{
		Name:          name,
		SingleUser:    !alternating,
		KeepsPrevious: alternating,
		Triggers:      triggers,
		PreRotations:  pre,
		New: func(t testing.TB, opts rotationtest.Options) *chaos.Case {
			pg := dbtest.SharedPostgres(t)
			user, pw := "chaos_"+randomHex(4), "Init-"+randomHex(12)
			pg.CreateRole(t, user, pw)
			cfg := postgres.Config{ConnectTimeout: 5 * time.Second}
			var rot rotators.Rotator
			var err error
			if alternating {
				t.Cleanup(func() { pg.DropRole(t, user+postgres.CloneSuffix) })
				rot, err = postgres.NewMultiUser(cfg)
			} else {
				rot, err = postgres.NewSingleUser(cfg)
			}
			if err != nil {
				t.Fatal(err)
			}
			env := rotationtest.New(t, rot, opts)
			v := secret.Value{Engine: "postgres", Username: user, Password: pw, DBName: "postgres"}
			proxy := proxied(t, &v, pg.Addr())
			if alternating {
				master, mpw := "chaos_master_"+randomHex(4), "Init-"+randomHex(12)
				pg.CreateRole(t, master, mpw, "CREATEROLE")
				pg.Exec(t, "GRANT "+pgx.Identifier{user}.Sanitize()+" TO "+pgx.Identifier{master}.Sanitize()+" WITH ADMIN OPTION")
				// The master secret names its server (the proxy, plaintext): a
				// master password goes only to its own secret's endpoint.
				v.MasterARN = env.CreateSecret(t, "chaos/master-"+master, secret.Value{Username: master, Password: mpw, Host: v.Host, Port: v.Port, SSL: v.SSL})
			}
			arn := env.CreateSecret(t, "chaos/"+user, v)
			return &chaos.Case{Env: env, ARN: arn, Target: &pgTarget{pg: pg, super: pg.Super(t), users: []string{user, user + postgres.CloneSuffix}}, Arm: armProxy(proxy)}
		},
	}
}

// mariaTarget checks logins directly against the server.
type mariaTarget struct {
	m     *dbtest.MariaDB
	root  *sql.DB
	users []string
}

func (m *mariaTarget) Authenticates(ctx context.Context, v secret.Value) (bool, error) {
	err := m.m.Login(ctx, v.Username, v.Password)
	if err == nil {
		return true, nil
	}
	if dbtest.IsMySQLAccessDenied(err) {
		return false, nil
	}
	return false, err
}

func (m *mariaTarget) Users(ctx context.Context) ([]string, error) {
	rows, err := m.root.QueryContext(ctx, "SELECT DISTINCT User FROM mysql.user WHERE User IN (?, ?)", m.users[0], m.users[1])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func mariaStrategy(alternating bool, pre int) chaos.Strategy {
	name := "mariadb-single"
	triggers := []string{"SET PASSWORD"}
	if alternating {
		name = "mariadb-alternating"
		triggers = []string{"IDENTIFIED BY PASSWORD"}
		if pre == 0 {
			// Only the first rotation copies grants to the new clone.
			triggers = append(triggers, "GRANT SELECT")
		}
	}
	if pre > 0 {
		name += "-later"
	}
	return chaos.Strategy{
		Name:          name,
		SingleUser:    !alternating,
		KeepsPrevious: alternating,
		Triggers:      triggers,
		PreRotations:  pre,
		New: func(t testing.TB, opts rotationtest.Options) *chaos.Case {
			m := dbtest.SharedMariaDB(t)
			user, pw := dbtest.NewMySQLUserName("chaos"), "Init-"+randomHex(12)
			clone := user + "_clone"
			m.Exec(t, "CREATE DATABASE IF NOT EXISTS chaos")
			m.Exec(t, "CREATE USER ?@'%' IDENTIFIED BY ?", user, pw)
			m.Exec(t, "GRANT SELECT ON chaos.* TO ?@'%'", user)
			t.Cleanup(func() {
				m.Exec(t, "DROP USER IF EXISTS ?@'%'", user)
				m.Exec(t, "DROP USER IF EXISTS ?@'%'", clone)
			})
			cfg := mysql.Config{Passwords: password.Default(password.MySQLExclude), ConnectTimeout: 5 * time.Second}
			var rot rotators.Rotator = mysql.NewSingleUser(cfg)
			if alternating {
				rot = mysql.NewMultiUser(cfg)
			}
			env := rotationtest.New(t, rot, opts)
			v := secret.Value{Engine: "mariadb", Username: user, Password: pw}
			proxy := proxied(t, &v, m.Addr())
			if alternating {
				master, mpw := dbtest.NewMySQLUserName("chaosm"), "Init-"+randomHex(12)
				m.Exec(t, "CREATE USER ?@'%' IDENTIFIED BY ?", master, mpw)
				m.Exec(t, "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION", master)
				t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS ?@'%'", master) })
				// The master secret names its server (the same proxied endpoint):
				// a master without host is used only at an RDS-resolved endpoint.
				v.MasterARN = env.CreateSecret(t, "chaos/master-"+master, secret.Value{Username: master, Password: mpw, Host: v.Host, Port: v.Port, SSL: v.SSL})
			}
			arn := env.CreateSecret(t, "chaos/"+user, v)
			return &chaos.Case{Env: env, ARN: arn, Target: &mariaTarget{m: m, root: m.RootDB(t), users: []string{user, clone}}, Arm: armProxy(proxy)}
		},
	}
}

// quickDB is the representative subset for a database strategy in make
// test: the database fault points (for PostgreSQL alternating users, the
// drop before an uncommitted statement is left to full mode), and the writes
// of createSecret and finishSecret applied with their responses lost.
func quickDB(strat chaos.Strategy, calls chaos.StepCalls) []chaos.Schedule {
	all := chaos.Enumerate(calls, strat.Triggers, retries(), chaos.Full())
	if chaos.Full() {
		return all
	}
	var out []chaos.Schedule
	for _, s := range all {
		lost := s.Kind == chaos.SMLost && (s.Op == "PutSecretValue" || s.Op == "UpdateSecretVersionStage")
		switch {
		case s.Kind == chaos.DBDrop && !(s.Trigger == "PASSWORD '" && s.When == chaos.Before),
			lost && !strings.HasPrefix(strat.Name, "postgres-alternating"):
			out = append(out, s)
		}
	}
	return out
}

func runDB(t *testing.T, strat chaos.Strategy) {
	t.Parallel() // the strategies share the servers but nothing else
	calls := chaos.Discover(t, strat)
	t.Logf("%s happy-path calls per step: %v", strat.Name, calls)
	runAll(t, strat, quickDB(strat, calls))
}

func TestPostgresSingle(t *testing.T)      { runDB(t, pgStrategy(false, 0)) }
func TestPostgresAlternating(t *testing.T) { runDB(t, pgStrategy(true, 0)) }
func TestMariaDBSingle(t *testing.T)       { runDB(t, mariaStrategy(false, 0)) }
func TestMariaDBAlternating(t *testing.T)  { runDB(t, mariaStrategy(true, 0)) }

// TestLaterRotations repeats the alternating strategies' schedules on a
// later rotation (the clone exists and AWSPREVIOUS is set). The quick subset
// keeps MariaDB's database fault points; full mode runs everything.
func TestLaterRotations(t *testing.T) {
	t.Parallel()
	strats := []chaos.Strategy{mariaStrategy(true, 1)}
	if chaos.Full() {
		strats = append(strats, pgStrategy(true, 1))
	}
	for _, strat := range strats {
		t.Run(strat.Name, func(t *testing.T) {
			calls := chaos.Discover(t, strat)
			scheds := quickDB(strat, calls)
			if !chaos.Full() {
				var dbOnly []chaos.Schedule
				for _, s := range scheds {
					if s.Kind == chaos.DBDrop {
						dbOnly = append(dbOnly, s)
					}
				}
				scheds = dbOnly
			}
			runAll(t, strat, scheds)
		})
	}
}

// TestBrokenPostgresRotatorIsCaught repeats the broken-rotator check on a
// real server: a PostgreSQL single-user rotator whose createSecret also runs
// ALTER ROLE must make the checker report violations.
func TestBrokenPostgresRotatorIsCaught(t *testing.T) {
	t.Parallel()
	pg := dbtest.SharedPostgres(t)
	good := pgStrategy(false, 0)
	broken := good
	broken.Name = "postgres-broken"
	broken.New = func(t testing.TB, opts rotationtest.Options) *chaos.Case {
		c := good.New(t, opts)
		inner, err := postgres.NewSingleUser(postgres.Config{ConnectTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		super := pg.Super(t)
		rot := &chaos.Broken{Rotator: inner, Change: func(ctx context.Context, user, pw string) error {
			_, err := super.Exec(ctx, "ALTER ROLE "+pgx.Identifier{user}.Sanitize()+" PASSWORD "+quoteLiteral(pw))
			return err
		}}
		reg := c.Env.Registry
		*reg = rotators.Registry{}
		reg.Register(rot, rotators.SingleUser, rotators.AnyEngine)
		return c
	}
	res := chaos.Run(t, broken, chaos.Schedule{Step: "createSecret", Kind: chaos.SMRefused, Op: "PutSecretValue", Nth: 1, Retry: chaos.RetrySequence})
	if len(res.Violations) == 0 {
		t.Fatalf("the checker saw no violation from a PostgreSQL rotator that changes the password in createSecret (%d observations)", res.Observed)
	}
	t.Logf("caught, as it should be: %q", res.Violations)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// proxyWhen maps a schedule's moment to the fault proxy's.
func proxyWhen(w chaos.When) dbtest.When {
	if w == chaos.Before {
		return dbtest.Before
	}
	return dbtest.After
}
