package rig

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// ErrRejected is returned by Target.Login when the server refuses the user
// name or password (PostgreSQL 28P01, MySQL 1045), as opposed to any other
// failure.
var ErrRejected = errors.New("credential rejected by the server")

// Target is a database server whose credentials the rig rotates.
type Target interface {
	// Engine is the secret's engine key ("postgres", "mariadb").
	Engine() string
	// Addr is host:port.
	Addr() string
	// CAFile is the PEM file of the CA the server's certificate chains to.
	CAFile() string
	// CreateUser creates a login user with password. A master user may create
	// users and grant what it has (it rotates alternating users).
	CreateUser(ctx context.Context, name, password string, master bool) error
	// Login opens one connection as user and closes it. It returns nil when
	// the server accepts the password and an error wrapping ErrRejected when
	// it refuses it.
	Login(ctx context.Context, user, password string) error
	// Secret is the secret value for user, in AWS's template shape.
	Secret(user, password string) secret.Value
	// CheckPasswordEnforced returns an error unless a wrong password is
	// refused (so no check can pass through trust authentication).
	CheckPasswordEnforced(ctx context.Context) error
}

// Postgres is a PostgreSQL Target.
type Postgres struct{ DB *dbtest.Postgres }

var _ Target = Postgres{}

// Engine returns "postgres".
func (p Postgres) Engine() string { return "postgres" }

// Addr returns host:port.
func (p Postgres) Addr() string { return p.DB.Addr() }

// CAFile returns the server's CA file.
func (p Postgres) CAFile() string { return p.DB.CA.CAFile }

// CreateUser creates a login role (CREATEROLE for a master) with a schema of
// its own, as the superuser, in a session that does not log statements.
func (p Postgres) CreateUser(ctx context.Context, name, password string, master bool) error {
	c, err := p.DB.TryConnect(ctx, p.DB.Superuser, p.DB.SuperPassword)
	if err != nil {
		return fmt.Errorf("postgres: connect as superuser: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier{name}.Sanitize()
	opts := ""
	if master {
		opts = " CREATEROLE"
	}
	stmts := []string{
		"SET log_statement = 'none'",
		"CREATE ROLE " + ident + " LOGIN" + opts + " PASSWORD " + quoteLiteral(password),
	}
	if !master {
		stmts = append(stmts, "CREATE SCHEMA "+pgx.Identifier{name + "_s"}.Sanitize()+" AUTHORIZATION "+ident)
	}
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			return fmt.Errorf("postgres: create role %s: %w", name, scrub(err, password))
		}
	}
	return nil
}

// Login logs in as user over TCP.
func (p Postgres) Login(ctx context.Context, user, password string) error {
	c, err := p.DB.TryConnect(ctx, user, password)
	if err == nil {
		return c.Close(ctx)
	}
	if dbtest.IsAuthFailure(err) {
		return fmt.Errorf("postgres: login as %s: %w", user, ErrRejected)
	}
	return fmt.Errorf("postgres: login as %s: %w", user, scrub(err, password))
}

// Secret returns the secret for user: no ssl key, so the rotators verify TLS
// fully against ROTARY_CA_BUNDLE.
func (p Postgres) Secret(user, password string) secret.Value {
	return secret.Value{Engine: "postgres", Host: p.DB.Host, Port: p.DB.Port, Username: user, Password: password, DBName: "postgres"}
}

// CheckPasswordEnforced tries the superuser with a wrong password.
func (p Postgres) CheckPasswordEnforced(ctx context.Context) error {
	err := p.Login(ctx, p.DB.Superuser, "wrong-"+RandomHex(8))
	if errors.Is(err, ErrRejected) {
		return nil
	}
	if err == nil {
		return errors.New("postgres accepted a wrong password: authentication is not enforced")
	}
	return fmt.Errorf("postgres: a wrong password failed for another reason than the password: %w", err)
}

// MariaDB is a MariaDB Target.
type MariaDB struct{ DB *dbtest.MariaDB }

var _ Target = MariaDB{}

// Database is the database MariaDB users get privileges on.
const Database = "rotary_e2e"

// Engine returns "mariadb".
func (m MariaDB) Engine() string { return "mariadb" }

// Addr returns host:port.
func (m MariaDB) Addr() string { return m.DB.Addr() }

// CAFile returns the server's CA file.
func (m MariaDB) CAFile() string { return m.DB.CA.CAFile }

// CreateUser creates user@'%' (all privileges WITH GRANT OPTION for a
// master, SELECT and INSERT on Database otherwise) as root over TLS, with the
// session's general log off so the initial password is not logged.
func (m MariaDB) CreateUser(ctx context.Context, name, password string, master bool) error {
	cfg := m.DB.Config(m.DB.RootUser, m.DB.RootPassword)
	cfg.InterpolateParams = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("mariadb: connect as root: %w", err)
	}
	defer c.Close()
	grant := "GRANT SELECT, INSERT ON `" + Database + "`.* TO ?@'%'"
	if master {
		grant = "GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION"
	}
	for _, s := range []struct {
		q    string
		args []any
	}{
		{"SET SESSION sql_log_off = 1", nil},
		{"CREATE DATABASE IF NOT EXISTS `" + Database + "`", nil},
		{"CREATE USER ?@'%' IDENTIFIED BY ?", []any{name, password}},
		{grant, []any{name}},
	} {
		if _, err := c.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("mariadb: create user %s: %w", name, scrub(err, password))
		}
	}
	return nil
}

// Login logs in as user over TCP with verified TLS.
func (m MariaDB) Login(ctx context.Context, user, password string) error {
	err := m.DB.Login(ctx, user, password)
	if err == nil {
		return nil
	}
	if dbtest.IsMySQLAccessDenied(err) {
		return fmt.Errorf("mariadb: login as %s: %w", user, ErrRejected)
	}
	return fmt.Errorf("mariadb: login as %s: %w", user, scrub(err, password))
}

// Secret returns the secret for user (no ssl key: verified TLS).
func (m MariaDB) Secret(user, password string) secret.Value {
	return secret.Value{Engine: "mariadb", Host: m.DB.Host, Port: m.DB.Port, Username: user, Password: password}
}

// CheckPasswordEnforced tries root over TCP with a wrong password.
func (m MariaDB) CheckPasswordEnforced(ctx context.Context) error {
	err := m.Login(ctx, m.DB.RootUser, "wrong-"+RandomHex(8))
	if errors.Is(err, ErrRejected) {
		return nil
	}
	if err == nil {
		return errors.New("mariadb accepted a wrong password: authentication is not enforced")
	}
	return fmt.Errorf("mariadb: a wrong password failed for another reason than the password: %w", err)
}

// WriteCABundle writes the CA files of targets into one PEM file at path, for
// ROTARY_CA_BUNDLE.
func WriteCABundle(path string, targets ...Target) error {
	var b []byte
	for _, t := range targets {
		pem, err := os.ReadFile(t.CAFile())
		if err != nil {
			return fmt.Errorf("CA bundle: %w", err)
		}
		b = append(b, pem...)
	}
	return os.WriteFile(path, b, 0o644)
}

// RandomHex returns 2n random hexadecimal characters.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewPassword returns a fresh initial password (the rotators make the later ones).
func NewPassword() string { return "Init-" + RandomHex(12) }

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// scrub hides values in err's text, keeping the chain for errors.Is/As.
func scrub(err error, values ...string) error {
	msg := err.Error()
	changed := false
	for _, v := range values {
		if v != "" && strings.Contains(msg, v) {
			msg = strings.ReplaceAll(msg, v, "[REDACTED]")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
