package mysql

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/shared/awsx/rdsx"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/dbtest/fakemysql"
)

// The RDS API implementation satisfies the resolver interface.
var _ EndpointResolver = (*rdsx.Endpoints)(nil)

type resolverCall struct{ masterARN, token, instance, cluster string }

// fixedResolver answers every call with the same endpoint or error.
type fixedResolver struct {
	host string
	port int
	err  error
	got  []resolverCall
}

func (f *fixedResolver) ResolveEndpoint(_ context.Context, masterARN, token, instance, cluster string) (string, int, error) {
	f.got = append(f.got, resolverCall{masterARN, token, instance, cluster})
	return f.host, f.port, f.err
}

// rdsMaster is an RDS-managed master secret: username and password only.
func rdsMaster(t testing.TB, m *dbtest.MariaDB) secret.Value {
	t.Helper()
	v := createMaster(t, m)
	return secret.Value{Username: v.Username, Password: v.Password}
}

// TestMasterEndpointPinning: a master secret without host is used only at the
// endpoint the RDS resolver gives, and only when the user secret names that
// same endpoint. Every refusal happens before any connection.
func TestMasterEndpointPinning(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	master := rdsMaster(t, m)
	const masterARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:rds!db-AbCdEf"
	tests := []struct {
		name     string
		resolver *fixedResolver
		want     error
	}{
		{name: "resolver agrees", resolver: &fixedResolver{host: m.Host, port: m.Port}},
		{name: "no resolver", want: ErrMasterEndpoint},
		{name: "not RDS-managed", resolver: &fixedResolver{err: rdsx.ErrNotRDSManaged}, want: ErrMasterEndpoint},
		{name: "resolver gives no host", resolver: &fixedResolver{}, want: ErrMasterEndpoint},
		{name: "resolver gives another host", resolver: &fixedResolver{host: "db.example.internal", port: m.Port}, want: ErrEndpointMismatch},
		{name: "resolver gives another port", resolver: &fixedResolver{host: m.Host, port: m.Port + 1}, want: ErrEndpointMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(m)
			if tc.resolver != nil {
				cfg.Endpoints = tc.resolver
			}
			r := NewMultiUser(cfg)
			cur := newTestUser(t, m, dbtest.NewMySQLUserName("pin"), "%", "GRANT SELECT ON mysql.db TO %s")
			cur.MasterARN = masterARN
			cur.DBInstanceIdentifier = "db-instance-1"
			t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(cur.Username+CloneSuffix, "%")) })
			err := rotate(t, r, &versions{current: cur, master: master, hasMaster: true})
			if tc.resolver != nil {
				// token: the rotation's ClientRequestToken (rotate's "token-…").
				want := resolverCall{masterARN: masterARN, instance: "db-instance-1"}
				if len(tc.resolver.got) == 1 && strings.HasPrefix(tc.resolver.got[0].token, "token-") {
					want.token = tc.resolver.got[0].token
				}
				if len(tc.resolver.got) != 1 || tc.resolver.got[0] != want {
					t.Errorf("resolver asked %+v, want one %+v", tc.resolver.got, want)
				}
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("rotate: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("rotate() = %v, want %v", err, tc.want)
			}
			if got := r.Stats().Logins; got != 0 {
				t.Fatalf("%d connection attempts before the refusal, want 0", got)
			}
			if m.UserExists(t, cur.Username+CloneSuffix, "%") {
				t.Fatal("clone created despite the refusal")
			}
			mustLogin(t, m, cur)
		})
	}
}

// TestMasterPasswordNeverReachesUserHost: the user secret names a hostile
// server that accepts the user's own password and then asks for the
// master's in a form it can read. The master credential must never go there,
// whatever the master secret says.
func TestMasterPasswordNeverReachesUserHost(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	master := rdsMaster(t, m)
	off := false
	tests := []struct {
		name     string
		master   secret.Value
		resolver EndpointResolver
		want     error
	}{
		{name: "master without host, no resolver", master: master, want: ErrMasterEndpoint},
		{name: "master without host, not RDS-managed", master: master, resolver: &fixedResolver{err: rdsx.ErrNotRDSManaged}, want: ErrMasterEndpoint},
		{name: "RDS master of another server", master: master, resolver: &fixedResolver{host: m.Host, port: m.Port}, want: ErrEndpointMismatch},
		{name: "master with its own host", master: createMaster(t, m), want: ErrEndpointMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, auth := range []fakemysql.Auth{fakemysql.AuthAcceptAny, fakemysql.AuthCachingSHA2Full, fakemysql.AuthClearText} {
				fake := fakemysql.Start(t, fakemysql.Config{Auth: auth, Accept: []string{"app"}, Version: "10.11.6-MariaDB"})
				cfg := testConfig(m)
				cfg.Endpoints = tc.resolver
				r := NewMultiUser(cfg)
				cur := secret.Value{Engine: "mariadb", Host: fake.Host, Port: fake.Port, Username: "app", Password: newPassword(t), SSL: &off, MasterARN: "arn:master"}
				err := rotate(t, r, &versions{current: cur, master: tc.master, hasMaster: true})
				if !errors.Is(err, tc.want) {
					t.Fatalf("%s: rotate() = %v, want %v", auth, err, tc.want)
				}
				for _, l := range fake.Logins() {
					if l.User == tc.master.Username {
						t.Fatalf("%s: the master logged in at the user secret's server", auth)
					}
				}
				if fake.Received(tc.master.Password) {
					t.Fatalf("%s: the fake received the master password", auth)
				}
			}
		})
	}
}

// TestMasterTLSNotInherited: the user secret's "ssl": false never applies to
// the master login; a master secret without "ssl" logs in with verified TLS
// (here failing, against a CA that does not sign the server), and only its
// own "ssl": false makes it plaintext.
func TestMasterTLSNotInherited(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	wrong := dbtest.NewCA(t)
	wrongPEM, err := os.ReadFile(wrong.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	wrongPool := x509.NewCertPool()
	wrongPool.AppendCertsFromPEM(wrongPEM)
	off := false
	withHost := createMaster(t, m)
	plainMaster := withHost
	plainMaster.SSL = &off
	tests := []struct {
		name     string
		master   secret.Value
		resolver EndpointResolver
		want     error
	}{
		{name: "master with host, ssl absent", master: withHost, want: ErrTLS},
		{name: "RDS master, ssl absent", master: rdsMaster(t, m), resolver: &fixedResolver{host: m.Host, port: m.Port}, want: ErrTLS},
		{name: "master with its own ssl false", master: plainMaster},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(m)
			cfg.RootCAs = wrongPool // the user's plaintext login does not care
			cfg.Endpoints = tc.resolver
			r := NewMultiUser(cfg)
			cur := newTestUser(t, m, dbtest.NewMySQLUserName("notls"), "%", "GRANT SELECT ON mysql.db TO %s")
			cur.SSL, cur.MasterARN = &off, "arn:master"
			t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(cur.Username+CloneSuffix, "%")) })
			err := createAndSet(t, r, &versions{current: cur, master: tc.master, hasMaster: true})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("create and set: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("create and set = %v, want %v", err, tc.want)
			}
			if m.UserExists(t, cur.Username+CloneSuffix, "%") {
				t.Fatal("clone created although the master login should have failed")
			}
		})
	}
}

// TestPreviousPasswordPinned: AWSPREVIOUS's password is tried only at the
// endpoint AWSPREVIOUS names. Someone who can write AWSCURRENT (but not read
// the secret) must not have the function send the previous password to the
// host they put in AWSCURRENT.
func TestPreviousPasswordPinned(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	owned := newTestUser(t, m, dbtest.NewMySQLUserName("prev"), "%")
	tests := []struct {
		name     string
		prevHost string
		want     error
	}{
		{name: "previous names the same server", prevHost: m.Host},
		{name: "previous names another server", prevHost: "db.example.internal", want: ErrNoCredential},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewSingleUser(testConfig(m))
			cur := owned.Clone()
			cur.Password = newPassword(t) // does not log in
			prev := owned.Clone()
			prev.Host = tc.prevHost
			pending := cur.Clone()
			pending.Password = newPassword(t)
			req := setRequest(cur, pending)
			req.Previous = loader(prev, true)
			_, err := r.Set(t.Context(), req)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Set: %v", err)
				}
				mustLogin(t, m, pending)
				owned.Password = pending.Password
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Set() = %v, want %v", err, tc.want)
			}
			if got := r.Stats().Logins; got != 2 {
				t.Fatalf("%d logins, want 2 (current and pending only)", got)
			}
			mustLogin(t, m, owned)
		})
	}
}
