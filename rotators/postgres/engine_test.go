package postgres_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/rotation"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// fleet is a registry with both PostgreSQL rotators, as the central function
// routes them (masterarn present: alternating users).
type fleet struct {
	reg    *rotators.Registry
	single *postgres.SingleUser
	multi  *postgres.MultiUser
}

// newFleet builds the fleet; resolver, when given, is the RDS endpoint
// resolver the rotators are built with.
func newFleet(t testing.TB, pg *dbtest.Postgres, resolver ...postgres.EndpointResolver) fleet {
	t.Helper()
	f := fleet{reg: &rotators.Registry{}}
	cfg := config(pg)
	if len(resolver) > 0 {
		cfg.Endpoints = resolver[0]
	}
	var err error
	if f.single, err = postgres.NewSingleUser(cfg); err != nil {
		t.Fatal(err)
	}
	if f.multi, err = postgres.NewMultiUser(cfg); err != nil {
		t.Fatal(err)
	}
	f.reg.Register(f.single, rotators.SingleUser, postgres.Engines...)
	f.reg.Register(f.multi, rotators.AlternatingUsers, postgres.Engines...)
	return f
}

func (f fleet) stats() postgres.Stats {
	a, b := f.single.Stats(), f.multi.Stats()
	return postgres.Stats{Logins: a.Logins + b.Logins, FailedLogins: a.FailedLogins + b.FailedLogins}
}

// checkInvariants: AWSCURRENT logs in and, for alternating users after a
// rotation, AWSPREVIOUS too (until the next rotation's setSecret changes it);
// for a single user the role's password is AWSCURRENT's and no other stored
// version's.
func checkInvariants(t *testing.T, pg *dbtest.Postgres, env *rotationtest.Env, arn string, alternating bool) {
	t.Helper()
	checkInvariantsDuring(t, pg, env, arn, alternating, true)
}

func checkInvariantsDuring(t *testing.T, pg *dbtest.Postgres, env *rotationtest.Env, arn string, alternating, finished bool) {
	t.Helper()
	cur := env.Value(t, arn, rotation.StageCurrent)
	if !pg.CanLogin(t, cur.Username, cur.Password) {
		t.Errorf("AWSCURRENT (%s) does not log in", cur.Username)
	}
	if alternating {
		if !finished {
			return
		}
		if prev, err := env.TryValue(t.Context(), arn, "", rotation.StagePrevious); err == nil && !pg.CanLogin(t, prev.Username, prev.Password) {
			t.Errorf("AWSPREVIOUS (%s) does not log in", prev.Username)
		}
		return
	}
	for _, v := range env.AllValues(t, arn) {
		if v.Password != cur.Password && pg.CanLogin(t, v.Username, v.Password) {
			t.Errorf("a stored version other than AWSCURRENT still logs in")
		}
	}
}

// TestEngineRotation runs whole rotations through the engine and the local
// Secrets Manager (acceptance 1, 5, 6): single user and alternating users.
func TestEngineRotation(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	tests := []struct {
		name        string
		alternating bool
		rdsManaged  bool // master secret holds only username and password
		maxSMCalls  int
		logins      int64
	}{
		{name: "single user", maxSMCalls: 8, logins: 2},
		{name: "alternating users", alternating: true, maxSMCalls: 9, logins: 3},
		{name: "alternating users with an RDS-managed master secret", alternating: true, rdsManaged: true, maxSMCalls: 9, logins: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resolver []postgres.EndpointResolver
			if tt.rdsManaged {
				resolver = append(resolver, &fixedResolver{host: pg.Host, port: pg.Port})
			}
			f := newFleet(t, pg, resolver...)
			env := rotationtest.New(t, f.reg)
			var user secret.Value
			var masterPW string
			if tt.alternating {
				p := newPair(t, pg, "eng")
				p.user.Engine = "aurora-postgresql"
				master := p.master
				if tt.rdsManaged {
					master = secret.Value{Username: p.master.Username, Password: p.master.Password}
				}
				p.user.MasterARN = env.CreateSecret(t, "master-"+randomHex(4), master)
				user, masterPW = p.user, p.master.Password
			} else {
				name, pw := newName("eng"), newPassword()
				pg.CreateRole(t, name, pw)
				user = userSecret(pg, name, pw)
			}
			arn := env.CreateSecret(t, "user-"+randomHex(4), user)
			seen := []string{user.Password, masterPW}
			for i := range 3 {
				before := env.Value(t, arn, rotation.StageCurrent)
				env.ResetSMCalls()
				var err error
				stats := loginDelta(f, func() { err = env.Rotate(t, arn) })
				if err != nil {
					t.Fatalf("rotation %d: %v", i+1, err)
				}
				if n := env.SMCalls(); n > tt.maxSMCalls {
					t.Errorf("rotation %d: %d Secrets Manager calls, budget %d", i+1, n, tt.maxSMCalls)
				}
				if stats != (postgres.Stats{Logins: tt.logins}) {
					t.Errorf("rotation %d: %+v, want %d logins and none failed", i+1, stats, tt.logins)
				}
				cur := env.Value(t, arn, rotation.StageCurrent)
				prev := env.Value(t, arn, rotation.StagePrevious)
				if cur.Password == before.Password || prev.Password != before.Password {
					t.Fatalf("rotation %d: AWSCURRENT did not move to a new password", i+1)
				}
				if tt.alternating && cur.Username == before.Username {
					t.Errorf("rotation %d: user %q did not alternate", i+1, cur.Username)
				}
				if !tt.alternating && pg.CanLogin(t, prev.Username, prev.Password) {
					t.Errorf("rotation %d: the old password still logs in", i+1)
				}
				checkInvariants(t, pg, env, arn, tt.alternating)
				seen = append(seen, cur.Password)
			}
			assertNoSecret(t, "server log", pg.Log(), seen...)
			rotationtest.AssertNoLeak(t, "engine log", env.Logs(), seen...)
		})
	}
}

// fleet implements statser for loginDelta.
func (f fleet) Stats() postgres.Stats { return f.stats() }

// TestEngineFaultProxy drops the connection right after the password change
// is sent; Secrets Manager's retry of the rotation completes it with the
// invariants intact (acceptance 2).
func TestEngineFaultProxy(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	tests := []struct {
		name        string
		alternating bool
		trigger     string
	}{
		{name: "single user after ALTER ROLE", trigger: "ALTER ROLE"},
		{name: "alternating users after CREATE ROLE", alternating: true, trigger: "CREATE ROLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFleet(t, pg)
			env := rotationtest.New(t, f.reg, rotationtest.Options{Server: localaws.Options{RotationRetries: 1}})
			proxy := dbtest.NewFaultProxy(t, pg.Addr())
			host, portStr, _ := net.SplitHostPort(proxy.Addr)
			port, _ := strconv.Atoi(portStr)
			var user secret.Value
			if tt.alternating {
				p := newPair(t, pg, "fault")
				p.master.Host, p.master.Port, p.master.SSL = host, port, boolPtr(false)
				p.user.MasterARN = env.CreateSecret(t, "master-"+randomHex(4), p.master)
				user = p.user
			} else {
				name, pw := newName("fault"), newPassword()
				pg.CreateRole(t, name, pw)
				user = userSecret(pg, name, pw)
			}
			user.Host, user.Port, user.SSL = host, port, boolPtr(false) // the proxy sees plaintext only
			arn := env.CreateSecret(t, "user-"+randomHex(4), user)

			proxy.DropAfter(tt.trigger)
			if err := env.Rotate(t, arn); err != nil {
				t.Fatalf("rotation with one retry: %v", err)
			}
			if proxy.Fired() != 1 {
				t.Fatalf("the proxy dropped %d connections, want 1", proxy.Fired())
			}
			runs := env.AWS.Rotations(arn)
			if last := runs[len(runs)-1]; last.Attempts != 2 {
				t.Errorf("rotation took %d attempts, want 2 (the first one failed at the drop)", last.Attempts)
			}
			checkInvariants(t, pg, env, arn, tt.alternating)
			// And the next rotation is an ordinary one.
			if err := env.Rotate(t, arn); err != nil {
				t.Fatalf("next rotation: %v", err)
			}
			checkInvariants(t, pg, env, arn, tt.alternating)
		})
	}
}

// BenchmarkRotationSingle reports the budgets of a single-user rotation
// through the engine (acceptance 6): Secrets Manager calls (≤ 8), logins (2)
// and failed logins (0) per rotation.
func BenchmarkRotationSingle(b *testing.B) {
	pg := dbtest.SharedPostgres(b)
	f := newFleet(b, pg)
	env := rotationtest.New(b, f.reg)
	name, pw := newName("bench"), newPassword()
	pg.CreateRole(b, name, pw)
	arn := env.CreateSecret(b, "bench-"+randomHex(4), userSecret(pg, name, pw))
	env.ResetSMCalls()
	before := f.stats()
	n := 0
	for b.Loop() {
		if err := env.Rotate(b, arn); err != nil {
			b.Fatal(err)
		}
		n++
	}
	after := f.stats()
	b.ReportMetric(float64(env.SMCalls())/float64(n), "sm-calls/op")
	b.ReportMetric(float64(after.Logins-before.Logins)/float64(n), "logins/op")
	b.ReportMetric(float64(after.FailedLogins-before.FailedLogins)/float64(n), "failed-logins/op")
}

// TestEngineMalformedSecrets: a secret the rotators cannot use fails the
// rotation before any connection and before a pending value is stored
// (acceptance 3).
func TestEngineMalformedSecrets(t *testing.T) {
	pg := dbtest.SharedPostgres(t)
	f := newFleet(t, pg)
	env := rotationtest.New(t, f.reg)
	tests := []struct {
		name string
		json string
	}{
		{name: "non-numeric port", json: `{"engine":"postgres","host":"127.0.0.1","port":"five","username":"u","password":"p"}`},
		{name: "missing password", json: `{"engine":"postgres","host":"127.0.0.1","port":5432,"username":"u"}`},
		{name: "missing host", json: `{"engine":"postgres","port":5432,"username":"u","password":"p"}`},
		{name: "wrong engine", json: `{"engine":"oracle","host":"127.0.0.1","username":"u","password":"p"}`},
		{name: "name too long", json: `{"engine":"postgres","host":"127.0.0.1","username":"` + strings.Repeat("n", 64) + `","password":"p"}`},
		{name: "clone name too long", json: `{"engine":"postgres","host":"127.0.0.1","username":"` + strings.Repeat("n", 58) + `","password":"p","masterarn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:m-AbCdEf"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := env.SM.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
				Name: aws.String("bad-" + randomHex(4)), SecretString: aws.String(tt.json),
			})
			if err != nil {
				t.Fatal(err)
			}
			arn := aws.ToString(out.ARN)
			var rotErr error
			stats := loginDelta(f, func() { rotErr = env.Rotate(t, arn) })
			if rotErr == nil {
				t.Fatal("rotation of a malformed secret succeeded")
			}
			if stats.Logins != 0 {
				t.Errorf("%d logins, want none", stats.Logins)
			}
			versions, err := env.SM.ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String(arn), IncludeDeprecated: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(versions.Versions); n != 1 {
				t.Errorf("%d stored versions after the failure, want only the original", n)
			}
		})
	}
}

// BenchmarkRotationMulti reports the same budgets for alternating users (the
// master secret read and the master login included).
func BenchmarkRotationMulti(b *testing.B) {
	pg := dbtest.SharedPostgres(b)
	f := newFleet(b, pg)
	env := rotationtest.New(b, f.reg)
	base, pw := newName("benchm"), newPassword()
	masterName, masterPW := newName("master"), newPassword()
	pg.CreateRole(b, masterName, masterPW, "CREATEROLE")
	pg.CreateRole(b, base, pw)
	b.Cleanup(func() { pg.DropRole(b, base+postgres.CloneSuffix) })
	user := userSecret(pg, base, pw)
	user.MasterARN = env.CreateSecret(b, "bench-master-"+randomHex(4), userSecret(pg, masterName, masterPW))
	arn := env.CreateSecret(b, "bench-"+randomHex(4), user)
	env.ResetSMCalls()
	before := f.stats()
	n := 0
	for b.Loop() {
		if err := env.Rotate(b, arn); err != nil {
			b.Fatal(err)
		}
		n++
	}
	after := f.stats()
	b.ReportMetric(float64(env.SMCalls())/float64(n), "sm-calls/op")
	b.ReportMetric(float64(after.Logins-before.Logins)/float64(n), "logins/op")
	b.ReportMetric(float64(after.FailedLogins-before.FailedLogins)/float64(n), "failed-logins/op")
}
