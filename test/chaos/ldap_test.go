package chaos_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/ldap"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/chaos"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// ldapPasswordModifyOID is in every Password Modify request (single user);
// the admin strategy's Modify names the userPassword attribute.
const ldapPasswordModifyOID = "1.3.6.1.4.1.4203.1.11.1"

// tlsFront accepts LDAPS with the server's own certificate and forwards the
// decrypted bytes to backend, so a fault proxy behind it reads the requests
// while the rotator still speaks verified TLS (it has no plaintext mode).
func tlsFront(t testing.TB, s *dbtest.Slapd, backend string) (string, int) {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(s.CA.CertFile, s.CA.KeyFile)
	if err != nil {
		t.Fatalf("tls front: %v", err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("tls front: %v", err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				done := make(chan struct{}, 2)
				go func() { _, _ = io.Copy(b, c); done <- struct{}{} }()
				go func() { _, _ = io.Copy(c, b); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return splitAddr(t, ln.Addr().String())
}

// ldapTarget checks binds directly against the server.
type ldapTarget struct {
	s  *dbtest.Slapd
	dn string
}

func (l *ldapTarget) Authenticates(ctx context.Context, v secret.Value) (bool, error) {
	err := l.s.Login(ctx, v.Username, v.Password)
	if err == nil {
		return true, nil
	}
	if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		return false, nil
	}
	return false, err
}

func (l *ldapTarget) Users(ctx context.Context) ([]string, error) {
	ok, err := l.s.EntryExists(ctx, l.dn)
	if err != nil || !ok {
		return nil, err
	}
	return []string{l.dn}, nil
}

func ldapStrategy(admin bool) chaos.Strategy {
	name, trigger := "ldap-single", ldapPasswordModifyOID
	if admin {
		name, trigger = "ldap-admin-password", "userPassword"
	}
	return chaos.Strategy{
		Name:       name,
		SingleUser: true,
		Triggers:   []string{trigger},
		New: func(t testing.TB, opts rotationtest.Options) *chaos.Case {
			s := dbtest.SharedSlapd(t)
			uid, pw := dbtest.NewLDAPUserName("chaos"), "Init-"+randomHex(12)
			dn := s.AddUser(t, uid, pw)
			cfg := ldap.Config{Policy: password.Default(""), RootCAs: s.Pool(), Timeout: 5 * time.Second}
			reg := &rotators.Registry{}
			if admin {
				reg.Register(ldap.NewAdmin(cfg), ldap.AdminPassword, ldap.Engines...)
			} else {
				reg.Register(ldap.NewSingleUser(cfg), rotators.SingleUser, ldap.Engines...)
			}
			env := rotationtest.New(t, reg, opts)
			proxy := dbtest.NewFaultProxy(t, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
			host, port := tlsFront(t, s, proxy.Addr)
			v := secret.Value{Engine: ldap.Engine, Host: host, Port: port, Username: dn, Password: pw}
			if admin {
				v.Set(secret.KeyStrategy, ldap.AdminPassword)
				v.MasterARN = env.CreateSecret(t, "chaos/ldap-master-"+uid, secret.Value{Engine: ldap.Engine, Host: host, Port: port, Username: s.RootDN, Password: s.RootPW})
			}
			arn := env.CreateSecret(t, "chaos/"+uid, v)
			return &chaos.Case{Env: env, ARN: arn, Target: &ldapTarget{s: s, dn: dn}, Arm: armProxy(proxy)}
		},
	}
}

func TestLDAPSingle(t *testing.T)        { runDB(t, ldapStrategy(false)) }
func TestLDAPAdminPassword(t *testing.T) { runDB(t, ldapStrategy(true)) }

// TestLDAPKilledUnderRIE kills the built ldap function under the Lambda RIE
// right after its Password Modify request reached the server (and, with
// ROTARY_CHAOS=full, at every Secrets Manager call of every step); the
// service's retries must complete the rotation with every invariant held.
func TestLDAPKilledUnderRIE(t *testing.T) {
	dbtest.NeedsServers(t)
	t.Parallel()
	s := dbtest.SharedSlapd(t)
	calls := chaos.StepCalls{
		localaws.StepCreate: {"DescribeSecret": 1, "GetSecretValue": 1, "PutSecretValue": 1},
		localaws.StepSet:    {"GetSecretValue": 2},
		localaws.StepTest:   {"GetSecretValue": 1},
		localaws.StepFinish: {"DescribeSecret": 1, "UpdateSecretVersionStage": 1},
	}
	for _, sc := range rieSchedules(calls, []string{ldapPasswordModifyOID}) {
		if !chaos.Full() && sc.trigger == "" {
			continue
		}
		t.Run(sc.String(), func(t *testing.T) {
			uid, pw := dbtest.NewLDAPUserName("chaosrie"), "Init-"+randomHex(12)
			dn := s.AddUser(t, uid, pw)
			proxy := dbtest.NewFaultProxy(t, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
			host, port := tlsFront(t, s, proxy.Addr)
			v := secret.Value{Engine: ldap.Engine, Host: host, Port: port, Username: dn, Password: pw}
			runRIE(t, rieCase{fn: "ldap", single: true, proxy: proxy, value: v,
				env:    []string{ldap.EnvCABundle + "=" + s.CA.CAFile},
				target: &ldapTarget{s: s, dn: dn}}, sc)
		})
	}
}
