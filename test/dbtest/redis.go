package dbtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Redis is a throwaway redis-server for one test: TLS on Port (server
// certificate signed by CA, valid for 127.0.0.1 and localhost), cleartext on
// PlainPort, users in an ACL file, the default user off, and an admin user
// for the test's own setup.
type Redis struct {
	Host      string
	Port      int // TLS
	PlainPort int // cleartext
	CA        CA
	ACLFile   string
	admin     string // the admin user's password
	cmd       *exec.Cmd
	exited    chan struct{}
}

// RedisAdmin is the name of the test server's administrator user.
const RedisAdmin = "rotary_admin"

// StartRedis starts a fresh redis-server for t, stopped and deleted when t
// ends. It fails t (never skips) when redis-server is missing; only -short
// skips it (NeedsServers). withACLFile false starts it without an ACL file
// (users then live in memory only, and ACL SAVE is refused by the server).
func StartRedis(t testing.TB, withACLFile bool) *Redis {
	t.Helper()
	NeedsServers(t)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("dbtest: redis-server not installed (apt-get install redis-server): %v", err)
	}
	ca := NewCA(t)
	dir := t.TempDir()
	r := &Redis{Host: "127.0.0.1", CA: ca, admin: "admin-" + randomHex(12), exited: make(chan struct{})}
	if r.Port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	if r.PlainPort, err = freePort(); err != nil {
		t.Fatal(err)
	}
	users := "user default off\nuser " + strings.Join([]string{RedisAdmin, "on", ">" + r.admin, "~*", "&*", "+@all"}, " ") + "\n"
	args := []string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(r.PlainPort), "--tls-port", strconv.Itoa(r.Port),
		"--tls-cert-file", ca.CertFile, "--tls-key-file", ca.KeyFile, "--tls-ca-cert-file", ca.CAFile,
		"--tls-auth-clients", "no", "--dir", dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--protected-mode", "no", "--logfile", filepath.Join(dir, "redis.log"),
	}
	if withACLFile {
		r.ACLFile = filepath.Join(dir, "users.acl")
		if err := os.WriteFile(r.ACLFile, []byte(users), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--aclfile", r.ACLFile)
	} else {
		conf := filepath.Join(dir, "redis.conf")
		if err := os.WriteFile(conf, []byte(users), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append([]string{conf}, args...)
	}
	r.cmd = exec.Command(bin, args...)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("dbtest: start redis-server: %v", err)
	}
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(r.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := r.ping()
		if err == nil {
			break
		}
		select {
		case <-r.exited:
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			t.Fatalf("dbtest: redis-server exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dbtest: redis-server not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The server must enforce passwords: a wrong one is refused as such (a
	// connection error would prove nothing).
	if err := r.Login(context.Background(), RedisAdmin, "wrong-"+randomHex(4)); err == nil {
		t.Fatal("dbtest: redis-server accepted a wrong password")
	} else if !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Fatalf("dbtest: redis-server refused a wrong password with an unexpected error (want WRONGPASS): %v", err)
	}
	return r
}

func (r *Redis) ping() error {
	c := r.client(RedisAdmin, r.admin)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

func (r *Redis) stop() {
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// Addr is the TLS address.
func (r *Redis) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// TLSConfig verifies the server against the test CA.
func (r *Redis) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(r.CA.CAFile)
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: r.Host, MinVersion: tls.VersionTLS12}
}

func (r *Redis) client(user, password string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{
		Addr: r.Addr(), Username: user, Password: password, TLSConfig: r.TLSConfig(), Protocol: 2,
		MaxRetries: -1, PoolSize: 1, DisableIdentity: true, DialTimeout: 5 * time.Second, DialerRetries: 1,
	})
}

// Login reports whether user logs in with password over verified TLS (nil
// error).
func (r *Redis) Login(ctx context.Context, user, password string) error {
	c := r.client(user, password)
	defer c.Close()
	return c.Ping(ctx).Err()
}

// AdminClient returns a client logged in as the administrator over verified
// TLS, closed when t ends (for code that takes a *redis.Client, such as
// localaws.RedisACL).
func (r *Redis) AdminClient(t testing.TB) *goredis.Client {
	c := r.NewAdminClient()
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// NewAdminClient is AdminClient outside a test: the caller closes it.
func (r *Redis) NewAdminClient() *goredis.Client { return r.client(RedisAdmin, r.admin) }

// Admin runs one command as the administrator.
func (r *Redis) Admin(t testing.TB, args ...any) any {
	t.Helper()
	c := r.client(RedisAdmin, r.admin)
	defer c.Close()
	res, err := c.Do(context.Background(), args...).Result()
	if err != nil {
		t.Fatalf("dbtest: redis %v: %v", args[:min(len(args), 2)], err)
	}
	return res
}

// CreateUser creates user with password and the rights a self-rotating user
// needs (ACL SETUSER/GETUSER/SAVE/WHOAMI, PING) plus extra rules.
func (r *Redis) CreateUser(t testing.TB, user, password string, extra ...string) {
	t.Helper()
	if err := r.AddUser(context.Background(), user, password, extra...); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
}

// AddUser is CreateUser outside a test: it returns the error (which may hold
// password: scrub it before logging).
func (r *Redis) AddUser(ctx context.Context, user, password string, extra ...string) error {
	args := []any{"ACL", "SETUSER", user, "reset", "on", ">" + password, "~app:*",
		"+ping", "+acl|setuser", "+acl|getuser", "+acl|save", "+acl|whoami"}
	for _, e := range extra {
		args = append(args, e)
	}
	c := r.NewAdminClient()
	defer c.Close()
	if err := c.Do(ctx, args...).Err(); err != nil {
		return fmt.Errorf("redis: create user %s: %w", user, err)
	}
	return nil
}

// Passwords returns how many passwords user holds.
func (r *Redis) Passwords(t testing.TB, user string) int {
	t.Helper()
	return len(r.PasswordHashes(t, user))
}

// PasswordHashes returns the hex SHA-256 hashes of the passwords user holds.
func (r *Redis) PasswordHashes(t testing.TB, user string) []string {
	t.Helper()
	res, ok := r.Admin(t, "ACL", "GETUSER", user).([]any)
	if !ok {
		t.Fatalf("dbtest: ACL GETUSER %s: unexpected reply", user)
	}
	for i := 0; i+1 < len(res); i += 2 {
		if res[i] == "passwords" {
			l, _ := res[i+1].([]any)
			out := make([]string, 0, len(l))
			for _, p := range l {
				out = append(out, fmt.Sprint(p))
			}
			return out
		}
	}
	t.Fatalf("dbtest: ACL GETUSER %s: no passwords field", user)
	return nil
}

// Users lists the server's ACL users.
func (r *Redis) Users(t testing.TB) []string {
	t.Helper()
	res, _ := r.Admin(t, "ACL", "USERS").([]any)
	out := make([]string, 0, len(res))
	for _, u := range res {
		out = append(out, fmt.Sprint(u))
	}
	return out
}

// ACLFileText is the content of the ACL file ("" without one).
func (r *Redis) ACLFileText(t testing.TB) string {
	t.Helper()
	if r.ACLFile == "" {
		return ""
	}
	b, err := os.ReadFile(r.ACLFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// AdminPassword is the administrator's password, for a test's master secret.
func (r *Redis) AdminPassword() string { return r.admin }
