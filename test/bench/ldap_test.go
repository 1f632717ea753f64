package bench_test

import (
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/ldap"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/bench"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// ldapSubject is a fresh user on the shared throwaway slapd, rotated over
// verified LDAPS by the single-user or (admin) the admin-password rotator,
// whose master is the server's rootdn.
func ldapSubject(t *testing.T, admin bool) bench.Subject {
	s := dbtest.SharedSlapd(t)
	uid, pw := dbtest.NewLDAPUserName("bench"), "Init-"+randomHex(12)
	dn := s.AddUser(t, uid, pw)
	cfg := ldap.Config{Policy: password.Default(""), RootCAs: s.Pool(), Timeout: 10 * time.Second}
	reg := &rotators.Registry{}
	sm := bench.NewMemSM()
	arn := acct + "bench/" + uid + "-AbCdEf"
	v := secret.Value{Engine: ldap.Engine, Host: s.Host, Port: s.LDAPSPort, Username: dn, Password: pw}
	name, r, strategy := "ldap single-user", ldap.NewSingleUser(cfg), rotators.SingleUser
	if admin {
		name, r, strategy = "ldap admin-password", ldap.NewAdmin(cfg), ldap.AdminPassword
		v.Set(secret.KeyStrategy, ldap.AdminPassword)
		v.MasterARN = acct + "bench/ldap-master-" + uid + "-AbCdEf"
		sm.Put(v.MasterARN, secret.Value{Engine: ldap.Engine, Host: s.Host, Port: s.LDAPSPort, Username: s.RootDN, Password: s.RootPW}.StoredJSON())
	}
	reg.Register(r, strategy, ldap.Engines...)
	sm.Put(arn, v.StoredJSON())
	return bench.Subject{Name: name, Registry: reg, SM: sm, ARN: arn, Stats: func() (int64, int64) {
		st := r.Stats()
		return st.Logins, st.FailedLogins
	}}
}

// ldapFunctionFigures measures the built ldap function under the RIE with a
// single-user rotation (full mode).
func ldapFunctionFigures(t *testing.T, rie string, build func(string) string) bench.FunctionFigures {
	s := dbtest.SharedSlapd(t)
	uid, pw := dbtest.NewLDAPUserName("benchfn"), "Init-"+randomHex(12)
	dn := s.AddUser(t, uid, pw)
	return bench.MeasureFunction(t, bench.FunctionSubject{
		Name: "ldap", RIE: rie, Bootstrap: build("ldap"), Env: []string{ldap.EnvCABundle + "=" + s.CA.CAFile},
		Value: secret.Value{Engine: ldap.Engine, Host: s.Host, Port: s.LDAPSPort, Username: dn, Password: pw},
		What:  "ldap single-user",
	})
}
