package dbtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
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

	"github.com/go-ldap/ldap/v3"
)

// SlapdSuffix is the naming context of every throwaway slapd: user entries
// live under ou=people of it.
const SlapdSuffix = "dc=rotary,dc=test"

// slapdBinaries are where Debian's slapd package puts the server.
var slapdBinaries = []string{"/usr/sbin/slapd"}

// Slapd is a throwaway OpenLDAP server for one test binary: an mdb database
// under SlapdSuffix, LDAPS on LDAPSPort and plain LDAP (for StartTLS) on
// Port, both on 127.0.0.1 with a certificate from its own CA. Users may bind
// and change their own userPassword (the Password Modify extended
// operation); the server stores passwords as {SSHA}.
type Slapd struct {
	Host      string // 127.0.0.1
	Port      int    // ldap:// (StartTLS)
	LDAPSPort int    // ldaps://
	CA        CA
	RootDN    string // the rootdn, allowed everything
	RootPW    string // its password (test only)

	cmd  *exec.Cmd
	dir  string
	done chan struct{}
	log  *slapdLog
}

// slapdLog keeps the last lines slapd wrote, for start-up errors.
type slapdLog struct{ mariaTail }

func (l *slapdLog) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		l.add(strings.TrimRight(line, "\n"))
	}
	return len(p), nil
}

// StartSlapd starts a server for t, stopped when t ends.
func StartSlapd(t testing.TB) *Slapd {
	t.Helper()
	NeedsServers(t)
	s, err := startSlapd(NewCA(t), t.TempDir())
	if err != nil {
		t.Fatalf("dbtest: start slapd: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

var sharedSlapd sharedServer[*Slapd]

// SharedSlapd returns one server per test binary, started on first use; make
// fresh users per test. Call StopSharedSlapd from TestMain after m.Run.
func SharedSlapd(t testing.TB) *Slapd {
	t.Helper()
	return sharedSlapd.get(t, "slapd", startSlapd)
}

// StopSharedSlapd stops the server SharedSlapd started, if any, and deletes
// its files.
func StopSharedSlapd() { sharedSlapd.stop() }

const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {{dir}}/slapd.pid
argsfile {{dir}}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {{ca}}
TLSCertificateFile {{cert}}
TLSCertificateKeyFile {{key}}
password-hash {SSHA}
database mdb
maxsize 16777216
suffix "` + SlapdSuffix + `"
rootdn "{{rootdn}}"
rootpw {{rootpw}}
directory {{dir}}/db
access to attrs=userPassword by self write by anonymous auth by * none
access to * by self read by users read by anonymous auth
`

func startSlapd(ca CA, dir string) (*Slapd, error) {
	bin := ""
	for _, b := range slapdBinaries {
		if _, err := os.Stat(b); err == nil {
			bin = b
		}
	}
	if bin == "" {
		return nil, errors.New("slapd not found (apt-get install slapd ldap-utils)")
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, err
	}
	s := &Slapd{Host: "127.0.0.1", CA: ca, RootDN: "cn=admin," + SlapdSuffix, RootPW: "root-" + randomHex(12), dir: dir, log: &slapdLog{}}
	conf := strings.NewReplacer("{{dir}}", dir, "{{ca}}", ca.CAFile, "{{cert}}", ca.CertFile, "{{key}}", ca.KeyFile,
		"{{rootdn}}", s.RootDN, "{{rootpw}}", s.RootPW).Replace(slapdConf)
	confFile := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		p1, err := freePort()
		if err != nil {
			return nil, err
		}
		p2, err := freePort()
		if err != nil {
			return nil, err
		}
		s.Port, s.LDAPSPort = p1, p2
		if lastErr = s.launch(bin, confFile); lastErr == nil {
			if err := s.seed(); err != nil {
				s.stop()
				return nil, err
			}
			if err := s.checkPasswordEnforced(); err != nil {
				s.stop()
				return nil, err
			}
			return s, nil
		}
	}
	return nil, lastErr
}

func (s *Slapd) launch(bin, confFile string) error {
	urls := fmt.Sprintf("ldap://%s:%d/ ldaps://%s:%d/", s.Host, s.Port, s.Host, s.LDAPSPort)
	// -d 0 keeps slapd in the foreground (killed with the test process) and
	// its output in the tail.
	cmd := exec.Command(bin, "-d", "0", "-f", confFile, "-h", urls)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("slapd exited: %s", s.log)
		default:
		}
		if c, err := s.dialRoot(); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return fmt.Errorf("slapd did not accept connections: %s", s.log)
}

func (s *Slapd) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// TLSConfig trusts the server's CA and verifies its name (verify-full).
func (s *Slapd) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	if b, err := os.ReadFile(s.CA.CAFile); err == nil {
		pool.AppendCertsFromPEM(b)
	}
	return &tls.Config{RootCAs: pool, ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

// Pool returns the server's CA as a certificate pool.
func (s *Slapd) Pool() *x509.CertPool { return s.TLSConfig().RootCAs }

func (s *Slapd) dial() (*ldap.Conn, error) {
	c, err := ldap.DialURL("ldaps://"+net.JoinHostPort(s.Host, strconv.Itoa(s.LDAPSPort)), ldap.DialWithTLSConfig(s.TLSConfig()))
	if err != nil {
		return nil, err
	}
	c.SetTimeout(10 * time.Second)
	return c, nil
}

func (s *Slapd) dialRoot() (*ldap.Conn, error) {
	c, err := s.dial()
	if err != nil {
		return nil, err
	}
	if err := c.Bind(s.RootDN, s.RootPW); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (s *Slapd) seed() error {
	c, err := s.dialRoot()
	if err != nil {
		return err
	}
	defer c.Close()
	base := ldap.NewAddRequest(SlapdSuffix, nil)
	base.Attribute("objectClass", []string{"top", "dcObject", "organization"})
	base.Attribute("o", []string{"rotary"})
	base.Attribute("dc", []string{"rotary"})
	if err := c.Add(base); err != nil {
		return fmt.Errorf("add suffix: %w", err)
	}
	people := ldap.NewAddRequest("ou=people,"+SlapdSuffix, nil)
	people.Attribute("objectClass", []string{"organizationalUnit"})
	people.Attribute("ou", []string{"people"})
	if err := c.Add(people); err != nil {
		return fmt.Errorf("add ou=people: %w", err)
	}
	return nil
}

// checkPasswordEnforced returns an error unless the server refuses the
// rootdn with a wrong password (LDAP result 49, invalidCredentials).
func (s *Slapd) checkPasswordEnforced() error {
	c, err := s.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	err = c.Bind(s.RootDN, "wrong-"+randomHex(4))
	if err == nil {
		return errors.New("slapd accepted a wrong password")
	}
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		return fmt.Errorf("a wrong password was refused with an unexpected error (want invalidCredentials): %w", err)
	}
	return nil
}

// UserDN is the DN of the user uid under ou=people (uid escaped, RFC 4514).
func UserDN(uid string) string {
	return "uid=" + ldap.EscapeDN(uid) + ",ou=people," + SlapdSuffix
}

// NewLDAPUserName returns a fresh uid starting with prefix.
func NewLDAPUserName(prefix string) string { return prefix + "-" + randomHex(4) }

// AddUser creates an inetOrgPerson uid under ou=people with password (the
// rootdn sets it through Password Modify, so it is stored as {SSHA}), deleted
// when t ends, and returns its DN.
func (s *Slapd) AddUser(t testing.TB, uid, password string) string {
	t.Helper()
	dn, err := s.CreateUser(t.Context(), uid, password)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		if c, err := s.dialRoot(); err == nil {
			_ = c.Del(ldap.NewDelRequest(dn, nil))
			c.Close()
		}
	})
	return dn
}

// CreateUser creates an inetOrgPerson uid under ou=people with password, set
// by the rootdn through Password Modify (stored as {SSHA}), and returns its
// DN. Nothing deletes it but the server's end.
func (s *Slapd) CreateUser(ctx context.Context, uid, password string) (string, error) {
	c, err := s.dialRoot()
	if err != nil {
		return "", fmt.Errorf("slapd root bind: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	dn := UserDN(uid)
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	add.Attribute("uid", []string{uid})
	add.Attribute("cn", []string{uid})
	add.Attribute("sn", []string{uid})
	if err := c.Add(add); err != nil {
		return "", fmt.Errorf("add %s: %w", dn, err)
	}
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest(dn, "", password)); err != nil {
		return "", fmt.Errorf("set the password of %s: %w", dn, err)
	}
	return dn, nil
}

// Login returns nil when dn binds with password over verified LDAPS.
func (s *Slapd) Login(ctx context.Context, dn, password string) error {
	if password == "" {
		return errors.New("empty password (an unauthenticated bind proves nothing)")
	}
	c, err := s.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	return c.Bind(dn, password)
}

// UserPassword returns the stored userPassword values of dn, read as the
// rootdn.
func (s *Slapd) UserPassword(t testing.TB, dn string) []string {
	t.Helper()
	c, err := s.dialRoot()
	if err != nil {
		t.Fatalf("dbtest: slapd root bind: %v", err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 10, false,
		"(objectClass=*)", []string{"userPassword"}, nil))
	if err != nil {
		t.Fatalf("dbtest: read %s: %v", dn, err)
	}
	if len(res.Entries) != 1 {
		return nil
	}
	return res.Entries[0].GetAttributeValues("userPassword")
}

// Exists reports whether dn is an entry.
func (s *Slapd) Exists(t testing.TB, dn string) bool {
	t.Helper()
	ok, err := s.EntryExists(t.Context(), dn)
	if err != nil {
		t.Fatalf("dbtest: look up %s: %v", dn, err)
	}
	return ok
}

// EntryExists reports whether dn is an entry, read as the rootdn.
func (s *Slapd) EntryExists(ctx context.Context, dn string) (bool, error) {
	c, err := s.dialRoot()
	if err != nil {
		return false, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	_, err = c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 10, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return false, nil
	}
	return err == nil, err
}
