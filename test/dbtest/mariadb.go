package dbtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB is a throwaway MariaDB server: its own data directory, a free
// loopback port, a unix socket, TLS from a CA generated for the test, password
// authentication on TCP (no anonymous users, root has a random password) and
// the general query log on.
type MariaDB struct {
	Host         string // always 127.0.0.1
	Port         int
	Socket       string // unix socket path (root may log in here without TLS)
	RootUser     string // "root"
	RootPassword string
	CA           CA     // CA.CAFile is what clients trust
	CAPEM        []byte // contents of CA.CAFile, kept in memory
	Version      string // SELECT VERSION()

	generalLog string
	dir        string
	cmd        *exec.Cmd
	exited     chan struct{}
	stderrTail *mariaTail
}

// mariadbBinaries are the programs a MariaDB server needs; a missing one fails
// the test with its name.
var mariadbBinaries = []string{"mariadb-install-db", "mariadbd"}

// StartMariaDB starts a fresh server for t, stopped and deleted when t ends. It
// fails t (never skips) when MariaDB is not installed; only -short skips it
// (NeedsServers). Before returning it checks that a wrong root password is
// rejected over TCP and the right one accepted, so every suite runs against a
// server that enforces passwords.
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	NeedsServers(t)
	ca := NewCA(t)
	m, err := startMariaDB(ca, t.TempDir())
	if err != nil {
		t.Fatalf("dbtest: start MariaDB: %v", err)
	}
	t.Cleanup(m.stop)
	return m
}

var sharedMaria sharedServer[*MariaDB]

// SharedMariaDB returns one server per test binary, started on first use, so a
// package's tests share its start-up cost; create fresh users per test. Call
// StopSharedMariaDB from TestMain after m.Run. The server is also killed if the
// test process dies.
func SharedMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	return sharedMaria.get(t, "MariaDB", startMariaDB)
}

// StopSharedMariaDB stops the server SharedMariaDB started, if any, and
// deletes its files.
func StopSharedMariaDB() { sharedMaria.stop() }

func copyCA(ca CA, dir string) (CA, error) {
	out := CA{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, "server.pem"),
		KeyFile:  filepath.Join(dir, "server.key"),
	}
	for _, p := range [][2]string{{ca.CAFile, out.CAFile}, {ca.CertFile, out.CertFile}, {ca.KeyFile, out.KeyFile}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			return out, fmt.Errorf("copy CA: %w", err)
		}
		if err := os.WriteFile(p[1], b, 0o600); err != nil {
			return out, fmt.Errorf("copy CA: %w", err)
		}
	}
	return out, nil
}

func startMariaDB(ca CA, dir string) (*MariaDB, error) {
	for _, b := range mariadbBinaries {
		if _, err := exec.LookPath(b); err != nil {
			return nil, fmt.Errorf("%s is not installed (apt-get install mariadb-server): %w", b, err)
		}
	}
	caPEM, err := os.ReadFile(ca.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	// Unix socket paths are limited to about 100 bytes; test temp dirs can be
	// longer, so the socket gets its own short directory.
	sockDir, err := os.MkdirTemp("", "mdb")
	if err != nil {
		return nil, err
	}
	m := &MariaDB{
		Host:       "127.0.0.1",
		Socket:     filepath.Join(sockDir, "s"),
		RootUser:   "root",
		CA:         ca,
		CAPEM:      caPEM,
		generalLog: filepath.Join(dir, "general.log"),
		dir:        dir,
	}
	data := filepath.Join(dir, "data")
	install := exec.Command("mariadb-install-db", "--no-defaults", "--user=root", "--datadir="+data,
		"--auth-root-authentication-method=normal", "--skip-test-db")
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %w\n%s", err, out)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		m.Port = port
		if lastErr = m.launch(data, sockDir); lastErr == nil {
			break
		}
		if !strings.Contains(lastErr.Error(), "in use") {
			break
		}
	}
	if lastErr != nil {
		return nil, lastErr
	}
	if err := m.secure(); err != nil {
		m.stop()
		return nil, err
	}
	return m, nil
}

// launch starts mariadbd and waits until it logs that it accepts connections.
func (m *MariaDB) launch(data, sockDir string) error {
	cmd := exec.Command("mariadbd", "--no-defaults", "--user=root",
		"--datadir="+data, "--socket="+m.Socket, "--port="+strconv.Itoa(m.Port),
		"--bind-address=127.0.0.1", "--skip-networking=0", "--skip-name-resolve",
		"--pid-file="+filepath.Join(sockDir, "pid"),
		"--ssl-ca="+m.CA.CAFile, "--ssl-cert="+m.CA.CertFile, "--ssl-key="+m.CA.KeyFile,
		"--general-log", "--general-log-file="+m.generalLog,
		"--innodb-buffer-pool-size=16M",
		"--skip-log-bin", "--performance-schema=OFF", "--max-connections=200")
	// Kill the server if the test process dies without cleaning up. The
	// parent-death signal follows the OS thread that started the child, so
	// it is started from a goroutine locked to its thread until it exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	m.exited = make(chan struct{})
	m.stderrTail = &mariaTail{}
	ready := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			m.stderrTail.add(line)
			if !signalled && strings.Contains(line, "ready for connections") {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(m.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start mariadbd: %w", err)
	}
	m.cmd = cmd
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case <-ready:
		return nil
	case <-m.exited:
		return fmt.Errorf("mariadbd exited during start-up:\n%s", m.stderrTail.String())
	case <-timer.C:
		m.stop()
		return fmt.Errorf("mariadbd not ready after 60s:\n%s", m.stderrTail.String())
	}
}

// secure gives root a random password, drops every other root account and any
// anonymous user, then proves that TCP logins need the right password.
func (m *MariaDB) secure() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m.RootPassword = randomHex(16)
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", m.Socket
	cfg.InterpolateParams = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT User, Host FROM mysql.user")
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	type acct struct{ user, host string }
	var accts []acct
	for rows.Next() {
		var a acct
		if err := rows.Scan(&a.user, &a.host); err != nil {
			return err
		}
		accts = append(accts, a)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, a := range accts {
		switch {
		case a.user == "root" && (a.host == "localhost" || a.host == "127.0.0.1"):
			_, err = db.ExecContext(ctx, "ALTER USER ?@? IDENTIFIED BY ?", a.user, a.host, m.RootPassword)
		case a.user == "root" || a.user == "":
			_, err = db.ExecContext(ctx, "DROP USER ?@?", a.user, a.host)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("secure account %s@%s: %w", a.user, a.host, err)
		}
	}
	// Wrong password first: a server that lets it in would make every test
	// meaningless.
	if err := m.Login(ctx, "root", "wrong-"+randomHex(4)); err == nil {
		return errors.New("MariaDB accepted a wrong root password over TCP")
	} else if !IsMySQLAccessDenied(err) {
		return fmt.Errorf("wrong-password check: expected access denied, got: %w", err)
	}
	if err := m.Login(ctx, "root", m.RootPassword); err != nil {
		return fmt.Errorf("root login over TCP with TLS: %w", err)
	}
	db2 := m.rootDB()
	defer db2.Close()
	if err := db2.QueryRowContext(ctx, "SELECT VERSION()").Scan(&m.Version); err != nil {
		return fmt.Errorf("read version: %w", err)
	}
	return nil
}

func (m *MariaDB) stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	select {
	case <-m.exited:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(20 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
	_ = os.RemoveAll(filepath.Dir(m.Socket))
}

// IsMySQLAccessDenied reports whether err is MySQL's error 1045 (access denied:
// wrong user or password).
func IsMySQLAccessDenied(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1045
}

// Addr is host:port of the TCP listener.
func (m *MariaDB) Addr() string { return net.JoinHostPort(m.Host, strconv.Itoa(m.Port)) }

// TLSConfig returns a client TLS configuration trusting only the test CA.
func (m *MariaDB) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(m.CAPEM)
	return &tls.Config{RootCAs: pool, ServerName: m.Host, MinVersion: tls.VersionTLS12}
}

// Config returns a driver configuration for user over TCP with verified TLS.
func (m *MariaDB) Config(user, password string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = user, password, "tcp", m.Addr()
	cfg.TLS = m.TLSConfig()
	cfg.Timeout = 10 * time.Second
	return cfg
}

// Login opens one TCP connection as user with password and closes it. It
// returns the server's error, if any (see IsMySQLAccessDenied).
func (m *MariaDB) Login(ctx context.Context, user, password string) error {
	conn, err := mysql.NewConnector(m.Config(user, password))
	if err != nil {
		return err
	}
	c, err := conn.Connect(ctx)
	if errors.Is(err, mysql.ErrMalformPkt) {
		// go-sql-driver v1.10 drops the last byte of a MariaDB ed25519
		// challenge when it is 0; a new connection gets a new challenge.
		c, err = conn.Connect(ctx)
	}
	if err != nil {
		return err
	}
	return c.Close()
}

func (m *MariaDB) rootDB() *sql.DB {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = "root", m.RootPassword, "unix", m.Socket
	cfg.InterpolateParams = true
	conn, _ := mysql.NewConnector(cfg) // only fails on an invalid config
	return sql.OpenDB(conn)
}

// RootDB returns a root connection pool over the unix socket, closed when t
// ends. It interpolates parameters, so ? works in account names of DDL.
func (m *MariaDB) RootDB(t testing.TB) *sql.DB {
	t.Helper()
	db := m.rootDB()
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Exec runs statements as root, failing t on the first error.
func (m *MariaDB) Exec(t testing.TB, query string, args ...any) {
	t.Helper()
	db := m.rootDB()
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("dbtest: root exec %q: %v", query, err)
	}
}

// ShowGrants returns SHOW GRANTS FOR user@host as root.
func (m *MariaDB) ShowGrants(t testing.TB, user, host string) []string {
	t.Helper()
	db := m.rootDB()
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), "SHOW GRANTS FOR ?@?", user, host)
	if err != nil {
		t.Fatalf("dbtest: SHOW GRANTS FOR %q@%q: %v", user, host, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			t.Fatalf("dbtest: scan grants: %v", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("dbtest: grants: %v", err)
	}
	return out
}

// UserExists reports whether the account user@host exists.
func (m *MariaDB) UserExists(t testing.TB, user, host string) bool {
	t.Helper()
	db := m.rootDB()
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(),
		"SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?", user, host).Scan(&n); err != nil {
		t.Fatalf("dbtest: look up account: %v", err)
	}
	return n > 0
}

// GeneralLog returns the general query log written so far: every statement
// the server received, from every client.
func (m *MariaDB) GeneralLog(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(m.generalLog)
	if err != nil {
		t.Fatalf("dbtest: read general log: %v", err)
	}
	return string(b)
}

// NewMySQLUserName returns a user name unique on this server, starting with prefix.
func NewMySQLUserName(prefix string) string { return prefix + "_" + randomHex(4) }

// mariaTail keeps the last lines of the server's error output for failure
// messages.
type mariaTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *mariaTail) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > 30 {
		l.lines = l.lines[len(l.lines)-30:]
	}
}

// String returns the kept lines.
func (l *mariaTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
