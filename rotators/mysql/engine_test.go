package mysql

import (
	"crypto/x509"
	"os"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// Through-engine tests: the real engine, driven by the local Secrets Manager's
// RotateSecret flow, rotating real MariaDB accounts.

func TestEngineSingleUser(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewSingleUser(testConfig(m))
	env := rotationtest.New(t, r)
	old := newTestUser(t, m, dbtest.NewMySQLUserName("eng"), "%")
	arn := env.CreateSecret(t, "mysql/single/"+old.Username, old)
	env.ResetSMCalls()
	before := r.Stats()

	if err := env.Rotate(t, arn); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	cur := env.Value(t, arn, "AWSCURRENT")
	if cur.Password == old.Password || cur.Username != old.Username {
		t.Fatalf("AWSCURRENT was not rotated")
	}
	mustLogin(t, m, cur)
	mustBeDenied(t, m, old)
	prev := env.Value(t, arn, "AWSPREVIOUS")
	if prev.Password != old.Password {
		t.Fatalf("AWSPREVIOUS is not the old value")
	}
	st := r.Stats()
	if got := st.Logins - before.Logins; got != 2 {
		t.Errorf("logins = %d, want 2", got)
	}
	if got := st.FailedLogins - before.FailedLogins; got != 0 {
		t.Errorf("failed logins = %d, want 0", got)
	}
	if got := env.SMCalls(); got > 8 {
		t.Errorf("Secrets Manager calls = %d, want at most 8", got)
	}
	rotationtest.AssertNoLeak(t, "engine logs", env.Logs(), old.Password, cur.Password)
	rotationtest.AssertNoLeak(t, "MariaDB general log", m.GeneralLog(t), old.Password, cur.Password)

	t.Run("rotates again", func(t *testing.T) {
		if err := env.Rotate(t, arn); err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		mustLogin(t, m, env.Value(t, arn, "AWSCURRENT"))
		mustBeDenied(t, m, cur)
	})
}

// TestEngineDroppedConnectionRetried cuts the connection right after the
// password statement is sent; the service re-drives the rotation with the
// same token and it completes, with every invariant intact.
func TestEngineDroppedConnectionRetried(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	tests := []struct {
		name    string
		r       rotator
		master  bool
		trigger string
	}{
		{name: "single user", r: NewSingleUser(testConfig(m)), trigger: "SET PASSWORD"},
		{name: "alternating users, clone creation", r: NewMultiUser(testConfig(m)), master: true, trigger: "CREATE USER"},
		{name: "alternating users, grant copy", r: NewMultiUser(testConfig(m)), master: true, trigger: "GRANT SELECT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := &rotators.Registry{}
			reg.Register(tc.r, strategyOf(tc.r), Engines...)
			env := rotationtest.New(t, reg, rotationtest.Options{Server: localaws.Options{RotationRetries: 2}})
			proxy := dbtest.NewFaultProxy(t, m.Addr())
			old := newTestUser(t, m, dbtest.NewMySQLUserName("drop"), "%", "GRANT SELECT ON mysql.db TO %s")
			off := false
			old.SSL = &off // the proxy relays plaintext only
			old.Host, old.Port = splitAddr(t, proxy.Addr)
			if tc.master {
				t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(old.Username+CloneSuffix, "%")) })
				master := createMaster(t, m)
				// The master secret names the same (proxied) endpoint,
				// plaintext by its own choice.
				master.Host, master.Port, master.SSL = old.Host, old.Port, &off
				old.MasterARN = env.CreateSecret(t, "master/"+old.Username, master)
			}
			arn := env.CreateSecret(t, "mysql/drop/"+old.Username, old)
			proxy.DropAfter(tc.trigger)

			if err := env.Rotate(t, arn); err != nil {
				t.Fatalf("Rotate (with retries): %v", err)
			}
			if proxy.Fired() != 1 {
				t.Fatalf("the proxy dropped %d connections, want 1", proxy.Fired())
			}
			runs := env.AWS.Rotations(arn)
			if got := runs[len(runs)-1].Attempts; got != 2 {
				t.Fatalf("rotation attempts = %d, want 2 (one dropped, one retried)", got)
			}
			cur := env.Value(t, arn, "AWSCURRENT")
			mustLogin(t, m, cur) // invariant 1
			if tc.master {
				mustLogin(t, m, env.Value(t, arn, "AWSPREVIOUS"))
				if got, want := normalisedGrants(t, m, cur.Username, "%", old.Username), normalisedGrants(t, m, old.Username, "%", old.Username); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("clone grants = %q, want %q", got, want)
				}
			} else {
				mustBeDenied(t, m, old)
			}
			// Invariant 3: every password the server accepts is held by a
			// stored version.
			held := map[string]bool{}
			for _, v := range env.AllValues(t, arn) {
				held[v.Username+"\x00"+v.Password] = true
			}
			if !held[cur.Username+"\x00"+cur.Password] {
				t.Fatal("AWSCURRENT is not among the stored values")
			}
			rotationtest.AssertNoLeak(t, "engine logs", env.Logs(), old.Password, cur.Password)
		})
	}
}

func TestEngineMultiUser(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	reg := &rotators.Registry{}
	if err := Register(reg, testConfig(m)); err != nil {
		t.Fatal(err)
	}
	env := rotationtest.New(t, reg)
	user := dbtest.NewMySQLUserName("engmulti")
	orig := newTestUser(t, m, user, "%", "GRANT SELECT, INSERT ON mysql.db TO %s")
	t.Cleanup(func() { m.Exec(t, "DROP USER IF EXISTS "+account(user+CloneSuffix, "%")) })
	masterValue := createMaster(t, m)
	orig.MasterARN = env.CreateSecret(t, "master/"+user, masterValue)
	arn := env.CreateSecret(t, "mysql/multi/"+user, orig)

	wantUsers := []string{user + CloneSuffix, user, user + CloneSuffix}
	var prevBefore secret.Value
	for i, want := range wantUsers {
		if err := env.Rotate(t, arn); err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
		cur, prev := env.Value(t, arn, "AWSCURRENT"), env.Value(t, arn, "AWSPREVIOUS")
		if cur.Username != want {
			t.Fatalf("rotation %d: AWSCURRENT user = %q, want %q", i+1, cur.Username, want)
		}
		mustLogin(t, m, cur)
		mustLogin(t, m, prev) // AWSPREVIOUS works until the next rotation…
		if i > 0 {
			mustBeDenied(t, m, prevBefore) // …and not after it
		}
		prevBefore = prev
		if i == 0 {
			m.Exec(t, "GRANT UPDATE ON mysql.db TO "+account(user, "%"))
			m.Exec(t, "REVOKE INSERT ON mysql.db FROM "+account(user, "%"))
		}
	}
	got, want := normalisedGrants(t, m, user+CloneSuffix, "%", user), normalisedGrants(t, m, user, "%", user)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("clone grants = %q, want %q", got, want)
	}
	var secrets []string
	for _, v := range env.AllValues(t, arn) {
		secrets = append(secrets, v.Password)
	}
	secrets = append(secrets, masterValue.Password)
	rotationtest.AssertNoLeak(t, "engine logs", env.Logs(), secrets...)
	rotationtest.AssertNoLeak(t, "MariaDB general log", m.GeneralLog(t), secrets...)
}

// BenchmarkRotationSingle measures one single-user rotation through the
// engine: Secrets Manager calls, database logins and failed logins per
// rotation (budget: 8 / 2 / 0).
func BenchmarkRotationSingle(b *testing.B) {
	m := dbtest.SharedMariaDB(b)
	r := NewSingleUser(testConfig(m))
	env := rotationtest.New(b, r)
	v := newTestUser(b, m, dbtest.NewMySQLUserName("bench"), "%")
	arn := env.CreateSecret(b, "mysql/bench/"+v.Username, v)
	env.ResetSMCalls()
	before := r.Stats()
	b.ResetTimer()
	for b.Loop() {
		if err := env.Rotate(b, arn); err != nil {
			b.Fatalf("Rotate: %v", err)
		}
	}
	b.StopTimer()
	st := r.Stats()
	n := float64(b.N)
	b.ReportMetric(float64(env.SMCalls())/n, "sm-calls/op")
	b.ReportMetric(float64(st.Logins-before.Logins)/n, "logins/op")
	b.ReportMetric(float64(st.FailedLogins-before.FailedLogins)/n, "failed-logins/op")
}

// TestEngineMalformedSecret: a secret the rotator cannot use fails in
// createSecret, with an error naming the key, before any connection, and
// leaves AWSCURRENT as it was.
func TestEngineMalformedSecret(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	r := NewSingleUser(testConfig(m))
	env := rotationtest.New(t, r)
	tests := []struct {
		name   string
		mutate func(v *secret.Value)
		key    string
	}{
		{name: "no host", mutate: func(v *secret.Value) { v.Host = "" }, key: secret.KeyHost},
		{name: "no username", mutate: func(v *secret.Value) { v.Username = "" }, key: secret.KeyUsername},
		{name: "overlong username", mutate: func(v *secret.Value) { v.Username = strings.Repeat("x", 81) }, key: secret.KeyUsername},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := secret.Value{Engine: "mysql", Host: m.Host, Port: m.Port, Username: "u", Password: newPassword(t)}
			tc.mutate(&v)
			arn := env.CreateSecret(t, "mysql/bad/"+dbtest.NewMySQLUserName("x"), v)
			before := r.Stats()
			err := env.Rotate(t, arn)
			if err == nil {
				t.Fatal("Rotate succeeded")
			}
			if !strings.Contains(err.Error(), `"`+tc.key+`"`) {
				t.Fatalf("Rotate() = %v, want the error to name key %q", err, tc.key)
			}
			if r.Stats() != before {
				t.Fatal("a connection was attempted")
			}
			if got := env.Value(t, arn, "AWSCURRENT"); got.Password != v.Password {
				t.Fatal("AWSCURRENT changed")
			}
			rotationtest.AssertNoLeak(t, "engine logs", env.Logs(), v.Password)
		})
	}
}

// TestEngineWrongCA: with a CA bundle the server's certificate does not chain
// to, the rotation fails in setSecret with a TLS error, after one connection
// attempt, and never retries in plaintext; AWSCURRENT keeps working.
func TestEngineWrongCA(t *testing.T) {
	m := dbtest.SharedMariaDB(t)
	cfg := testConfig(m)
	wrong := dbtest.NewCA(t)
	pem, err := os.ReadFile(wrong.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RootCAs = x509.NewCertPool()
	cfg.RootCAs.AppendCertsFromPEM(pem)
	r := NewSingleUser(cfg)
	env := rotationtest.New(t, r)
	v := newTestUser(t, m, dbtest.NewMySQLUserName("wrongca"), "%")
	arn := env.CreateSecret(t, "mysql/wrongca/"+v.Username, v)
	err = env.Rotate(t, arn)
	if err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("Rotate() = %v, want a TLS failure", err)
	}
	if got := r.Stats(); got.Logins != 1 || got.FailedLogins != 1 {
		t.Fatalf("Stats() = %+v, want exactly one failed attempt (no plaintext retry)", got)
	}
	if got := env.Value(t, arn, "AWSCURRENT"); got.Password != v.Password {
		t.Fatal("AWSCURRENT changed")
	}
	mustLogin(t, m, v)
	rotationtest.AssertNoLeak(t, "engine logs", env.Logs(), v.Password)
}
