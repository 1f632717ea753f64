package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Postgres is a throwaway PostgreSQL server: its own data directory, a free
// port on 127.0.0.1 (and 127.0.0.2, an address its certificate does not name),
// scram-sha-256 password authentication on every TCP connection, TLS from a CA
// made for the test, password_encryption=scram-sha-256, and log_statement=all
// into LogFile.
type Postgres struct {
	Host          string // 127.0.0.1: named in the server certificate
	AltHost       string // 127.0.0.2: same server, not named in the certificate
	Port          int
	Superuser     string // superuser name
	SuperPassword string // superuser password
	CA            CA     // CAFile is what clients trust
	LogFile       string // the server's log (stderr), log_statement=all
	Dir           string // the server's own directory (data, socket, certificates)
	Version       string // output of postgres --version

	cmd      *exec.Cmd
	exited   chan struct{}
	stopOnce sync.Once

	adminMu sync.Mutex
	admin   *pgx.Conn // quiet superuser session for fixtures, opened on first use
}

// StartPostgres starts a server owned by t: it stops when t ends. Prefer
// SharedPostgres, which starts one server per test binary.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	NeedsServers(t)
	p, err := launchPostgres(NewCA(t))
	if err != nil {
		t.Fatalf("dbtest: start PostgreSQL: %v", err)
	}
	t.Cleanup(p.Stop)
	p.CheckPasswordEnforced(t)
	return p
}

var shared struct {
	mu  sync.Mutex
	pg  *Postgres
	err error
}

// SharedPostgres returns the server shared by every test of this test binary,
// starting it on first use (and checking that a wrong password is refused).
// Call StopSharedPostgres from TestMain after m.Run; should the test binary die
// first, the server gets SIGQUIT from the kernel (parent-death signal). Tests
// that share the server must create their own roles and tables.
func SharedPostgres(t testing.TB) *Postgres {
	t.Helper()
	NeedsServers(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg == nil && shared.err == nil {
		ca := NewCA(t) // files live in t's temp dir; launchPostgres copies them
		shared.pg, shared.err = launchPostgres(ca)
		if shared.err == nil {
			if err := shared.pg.checkPasswordEnforced(); err != nil {
				shared.err = err
				shared.pg.Stop()
				shared.pg = nil
			}
		}
	}
	if shared.err != nil {
		t.Fatalf("dbtest: start shared PostgreSQL: %v", shared.err)
	}
	return shared.pg
}

// StopSharedPostgres stops the shared server, if one was started.
func StopSharedPostgres() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg != nil {
		shared.pg.Stop()
		shared.pg = nil
	}
}

// postgresBinDir finds the directory holding initdb and postgres.
func postgresBinDir() (string, error) {
	var candidates []string
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/local/bin/initdb")
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(versions, func(i, j int) bool { return pgMajor(versions[i]) > pgMajor(versions[j]) })
	candidates = append(candidates, versions...)
	for _, c := range candidates {
		real, err := filepath.EvalSymlinks(c)
		if err != nil {
			continue
		}
		dir := filepath.Dir(real)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found in PATH, /usr/local/bin or /usr/lib/postgresql/*/bin: install the postgresql package (Debian: apt-get install postgresql)")
}

func pgMajor(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// launchPostgres runs initdb and postgres; it is independent of any test's
// lifetime.
func launchPostgres(ca CA) (*Postgres, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no 'postgres' system user to run the server as: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	removeStaleDirs()
	dir, err := os.MkdirTemp("", "rotary-pg-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(dir)
		}
	}()
	p := &Postgres{
		Host:          "127.0.0.1",
		AltHost:       "127.0.0.2",
		Superuser:     "rotary_super",
		SuperPassword: randomHex(16),
		Dir:           dir,
		LogFile:       filepath.Join(dir, "server.log"),
		CA: CA{
			CAFile:   filepath.Join(dir, "ca.pem"),
			CertFile: filepath.Join(dir, "server.pem"),
			KeyFile:  filepath.Join(dir, "server.key"),
		},
	}
	for _, f := range [][3]string{{ca.CAFile, p.CA.CAFile, "0644"}, {ca.CertFile, p.CA.CertFile, "0644"}, {ca.KeyFile, p.CA.KeyFile, "0600"}} {
		b, err := os.ReadFile(f[0])
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f[0], err)
		}
		mode, _ := strconv.ParseUint(f[2], 8, 32)
		if err := os.WriteFile(f[1], b, os.FileMode(mode)); err != nil {
			return nil, err
		}
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.SuperPassword+"\n"), 0o600); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if uid >= 0 {
		if err := chownTree(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	out, err := runAs(cred, filepath.Join(bin, "postgres"), "--version")
	if err != nil {
		return nil, fmt.Errorf("postgres --version: %w: %s", err, out)
	}
	p.Version = strings.TrimSpace(out)
	out, err = runAs(cred, filepath.Join(bin, "initdb"), "-D", data, "-U", p.Superuser, "--pwfile", pwfile,
		"--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	_ = os.Remove(pwfile)
	// Password authentication everywhere; no trust on any connection.
	hba := strings.Join([]string{
		"local   all all              scram-sha-256",
		"hostssl all all 127.0.0.0/8  scram-sha-256",
		"host    all all 127.0.0.0/8  scram-sha-256",
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return nil, err
	}
	if uid >= 0 {
		if err := os.Chown(filepath.Join(data, "pg_hba.conf"), uid, gid); err != nil {
			return nil, err
		}
	}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p.Port = port
		lastErr = p.run(bin, data, cred, uid, gid)
		if lastErr == nil {
			ok = true
			return p, nil
		}
	}
	return nil, lastErr
}

// run starts the postmaster and waits until it accepts a password login.
func (p *Postgres) run(bin, data string, cred *syscall.Credential, uid, gid int) error {
	logf, err := os.OpenFile(p.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child keeps its own descriptor
	if uid >= 0 {
		if err := os.Chown(p.LogFile, uid, gid); err != nil {
			return err
		}
	}
	args := []string{"-D", data,
		"-c", "listen_addresses=" + p.Host + "," + p.AltHost,
		"-c", "port=" + strconv.Itoa(p.Port),
		"-c", "unix_socket_directories=" + p.Dir,
		"-c", "ssl=on",
		"-c", "ssl_cert_file=" + p.CA.CertFile,
		"-c", "ssl_key_file=" + p.CA.KeyFile,
		"-c", "password_encryption=scram-sha-256",
		"-c", "log_statement=all",
		"-c", "log_connections=on",
		"-c", "log_destination=stderr",
		"-c", "logging_collector=off",
		"-c", "log_line_prefix=%m [%p] %q%u@%d ",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=60",
		"-c", "shared_buffers=16MB",
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = p.Dir
	// SIGQUIT (immediate shutdown) if this process dies without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	// The parent-death signal follows the OS thread that started the child, so
	// start it from a goroutine locked to its thread until the server exits.
	p.exited = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	p.cmd = cmd
	if err := p.waitReady(30 * time.Second); err != nil {
		p.kill()
		p.cmd = nil
		return fmt.Errorf("%w; server log:\n%s", err, tail(p.Log(), 20))
	}
	return nil
}

// waitReady retries a superuser login until it succeeds, the server exits or
// the deadline passes (a server start is the one thing here we must poll for).
func (p *Postgres) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := p.connect(ctx, p.Superuser, p.SuperPassword, "postgres")
		if err == nil {
			_ = c.Close(context.Background())
			return nil
		}
		select {
		case <-p.exited:
			return errors.New("postgres exited during start-up")
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready after %s: %w", limit, err)
		case <-tick.C:
		}
	}
}

// Stop shuts the server down (fast shutdown) and removes its directory. It is
// safe to call more than once.
func (p *Postgres) Stop() {
	p.stopOnce.Do(func() {
		p.adminMu.Lock()
		if p.admin != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = p.admin.Close(ctx)
			cancel()
			p.admin = nil
		}
		p.adminMu.Unlock()
		p.kill()
		_ = os.RemoveAll(p.Dir)
	})
}

// kill shuts the server process down (fast shutdown, then SIGKILL) and waits
// for it to exit.
func (p *Postgres) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// Addr is host:port of the server on Host.
func (p *Postgres) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// Log returns the server log so far.
func (p *Postgres) Log() string {
	b, _ := os.ReadFile(p.LogFile)
	return string(b)
}

// connect logs in over TCP with TLS verified against the test CA.
func (p *Postgres) connect(ctx context.Context, user, password, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = p.Host, uint16(p.Port), user, password, db
	cfg.TLSConfig = nil
	cfg.Fallbacks = nil
	cfg.RuntimeParams = map[string]string{"application_name": "dbtest"}
	cfg.ConnectTimeout = 5 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

// Connect logs in as user over TCP (no TLS) and closes the connection when t
// ends.
func (p *Postgres) Connect(t testing.TB, user, password string) *pgx.Conn {
	t.Helper()
	c, err := p.TryConnect(t.Context(), user, password)
	if err != nil {
		t.Fatalf("dbtest: connect as %q: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// TryConnect logs in as user to the postgres database and returns the error, if
// any. The caller closes the connection.
func (p *Postgres) TryConnect(ctx context.Context, user, password string) (*pgx.Conn, error) {
	return p.connect(ctx, user, password, "postgres")
}

// CanLogin reports whether user can log in with password; any error other than
// a refused password fails t.
func (p *Postgres) CanLogin(t testing.TB, user, password string) bool {
	t.Helper()
	c, err := p.TryConnect(t.Context(), user, password)
	if err == nil {
		_ = c.Close(context.Background())
		return true
	}
	if IsAuthFailure(err) {
		return false
	}
	t.Fatalf("dbtest: login as %q failed for another reason than the password: %v", user, err)
	return false
}

// IsAuthFailure reports whether err is PostgreSQL's invalid_password (28P01).
func IsAuthFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "28P01"
}

// Super returns a superuser connection closed when t ends. Its session does
// not log statements, so test set-up (passwords of fixture roles) stays out of
// LogFile.
func (p *Postgres) Super(t testing.TB) *pgx.Conn {
	t.Helper()
	c := p.Connect(t, p.Superuser, p.SuperPassword)
	if _, err := c.Exec(t.Context(), "SET log_statement = 'none'"); err != nil {
		t.Fatalf("dbtest: quiet superuser session: %v", err)
	}
	return c
}

// withAdmin runs fn on the shared quiet superuser session (one connection for
// every fixture, so tests spend their logins on what they test).
func (p *Postgres) withAdmin(ctx context.Context, fn func(c *pgx.Conn) error) error {
	p.adminMu.Lock()
	defer p.adminMu.Unlock()
	if p.admin == nil || p.admin.IsClosed() {
		c, err := p.connect(ctx, p.Superuser, p.SuperPassword, "postgres")
		if err != nil {
			return fmt.Errorf("superuser session: %w", err)
		}
		if _, err := c.Exec(ctx, "SET log_statement = 'none'"); err != nil {
			_ = c.Close(ctx)
			return fmt.Errorf("quiet superuser session: %w", err)
		}
		p.admin = c
	}
	err := fn(p.admin)
	if err != nil && p.admin.PgConn().TxStatus() != 'I' {
		_, _ = p.admin.Exec(ctx, "ROLLBACK")
	}
	return err
}

// Exec runs statements as the superuser (not logged), failing t on error.
func (p *Postgres) Exec(t testing.TB, sql ...string) {
	t.Helper()
	for _, s := range sql {
		err := p.withAdmin(t.Context(), func(c *pgx.Conn) error {
			_, err := c.Exec(t.Context(), s)
			return err
		})
		if err != nil {
			t.Fatalf("dbtest: %s: %v", s, err)
		}
	}
}

// Strings runs a query as the superuser (not logged) and returns the first
// column of every row as text, failing t on error.
func (p *Postgres) Strings(t testing.TB, sql string, args ...any) []string {
	t.Helper()
	var out []string
	err := p.withAdmin(t.Context(), func(c *pgx.Conn) error {
		rows, err := c.Query(t.Context(), sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			out = append(out, fmt.Sprint(vals[0]))
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("dbtest: %s: %v", sql, err)
	}
	return out
}

// CreateRole creates a login role with password (plus any extra options, such
// as "CREATEROLE") and drops it, with everything it owns, when t ends.
func (p *Postgres) CreateRole(t testing.TB, name, password string, options ...string) {
	t.Helper()
	ident := pgx.Identifier{name}.Sanitize()
	sql := "CREATE ROLE " + ident + " LOGIN " + strings.Join(options, " ") + " PASSWORD " + quoteLiteral(password)
	err := p.withAdmin(t.Context(), func(c *pgx.Conn) error {
		_, err := c.Exec(t.Context(), sql)
		return err
	})
	if err != nil {
		t.Fatalf("dbtest: create role %q: %v", name, err)
	}
	t.Cleanup(func() { p.DropRole(t, name) })
}

// DropRole drops a role and everything it owns in the postgres database, if it
// exists. Failures are reported with t.Errorf.
func (p *Postgres) DropRole(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ident := pgx.Identifier{name}.Sanitize()
	err := p.withAdmin(ctx, func(c *pgx.Conn) error {
		var exists bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&exists); err != nil || !exists {
			return err
		}
		for _, s := range []string{"DROP OWNED BY " + ident + " CASCADE", "DROP ROLE " + ident} {
			if _, err := c.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("dbtest: drop role %q: %v", name, err)
	}
}

// CheckPasswordEnforced fails t unless the server refuses a wrong password for
// the superuser: proof that tests are not passing through trust auth.
func (p *Postgres) CheckPasswordEnforced(t testing.TB) {
	t.Helper()
	if err := p.checkPasswordEnforced(); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
}

func (p *Postgres) checkPasswordEnforced() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := p.connect(ctx, p.Superuser, "wrong-"+randomHex(8), "postgres")
	if err == nil {
		_ = c.Close(ctx)
		return errors.New("the server accepted a wrong password: authentication is not enforced")
	}
	if !IsAuthFailure(err) {
		return fmt.Errorf("a wrong password was refused with an unexpected error (want SQLSTATE 28P01): %w", err)
	}
	return nil
}

// ownerFile holds the PID of the test process that made a server directory.
const ownerFile = "owner.pid"

// removeStaleDirs deletes server directories left by test processes that died
// without cleaning up (their servers died with them: parent-death signal).
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "rotary-pg-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func runAs(cred *syscall.Credential, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = os.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func chownTree(root string, uid, gid int) error {
	return filepath.Walk(root, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
