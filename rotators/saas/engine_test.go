package saas_test

import (
	"errors"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"slices"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/saas"
	"github.com/rotary-secrets/rotary/rotators/saas/internal/fakes"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// engineEnv is one provider fake behind the real engine and the Secrets
// Manager emulator.
type engineEnv struct {
	*rotationtest.Env
	p       provider
	f       fake
	arn     string
	admin   secret.Value
	secrets []string // every secret value seen, for leak scans
	errs    []error
}

func newEngineEnv(t testing.TB, p provider, opts ...rotationtest.Options) *engineEnv {
	t.Helper()
	f, a, cur, admin := p.setup(t, testConfig(nil))
	var reg rotators.Registry
	reg.Register(saas.NewRotator(a), rotators.APIKey, p.name)
	env := rotationtest.New(t, &reg, opts...)
	cur.MasterARN = env.CreateSecret(t, p.name+"-admin", admin)
	e := &engineEnv{Env: env, p: p, f: f, admin: admin}
	e.arn = env.CreateSecret(t, p.name+"-app", cur)
	// The first key counts as Rotary's for this secret (named and recorded
	// for its ARN), so the second rotation revokes it.
	id, _ := cur.Get(p.idKey)
	name := saas.SecretPrefix(e.arn) + "seed"
	f.Rename(id, name)
	cur.Set(saas.RecordKey, name)
	if _, err := env.SM.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(e.arn), SecretString: aws.String(cur.StoredJSON())}); err != nil {
		t.Fatal(err)
	}
	e.remember(cur)
	e.remember(admin)
	return e
}

func (e *engineEnv) remember(v secret.Value) { e.secrets = append(e.secrets, v.Secrets()...) }

func (e *engineEnv) key(t *testing.T, stage string) (id, sec string) {
	t.Helper()
	v := e.Value(t, e.arn, stage)
	e.remember(v)
	id, _ = v.Get(e.p.idKey)
	sec, _ = v.Get(e.p.secretKey)
	return id, sec
}

// currentWorks fails the test unless the AWSCURRENT key authenticates.
func (e *engineEnv) currentWorks(t *testing.T, when string) {
	t.Helper()
	if _, sec := e.key(t, "AWSCURRENT"); !e.f.Works(sec) {
		t.Fatalf("%s: the AWSCURRENT key does not authenticate", when)
	}
}

// step runs one step through the engine, recording its error.
func (e *engineEnv) step(t *testing.T, tok, step string) error {
	t.Helper()
	err := e.Step(t, e.arn, tok, step)
	if err != nil {
		e.errs = append(e.errs, err)
	}
	return err
}

// onlyStoredKeysLive checks the live keys are exactly AWSCURRENT's and
// AWSPREVIOUS's.
func (e *engineEnv) onlyStoredKeysLive(t *testing.T) {
	t.Helper()
	cur, _ := e.key(t, "AWSCURRENT")
	prev, _ := e.key(t, "AWSPREVIOUS")
	want := []string{cur, prev}
	got := liveIDs(e.f)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("live keys %v, want AWSCURRENT's and AWSPREVIOUS's %v", got, want)
	}
}

// noLeaks scans the engine's logs and every step error for any secret value
// and for the fakes' canary marker.
func (e *engineEnv) noLeaks(t *testing.T) {
	t.Helper()
	for _, v := range e.AllValues(t, e.arn) {
		e.remember(v)
	}
	logs := e.Logs()
	if logs == "" {
		t.Error("the engine logged nothing; the scan would prove nothing")
	}
	rotationtest.AssertNoLeak(t, "engine logs", logs, e.secrets...)
	noCanary(t, "engine logs", logs)
	for _, err := range e.errs {
		rotationtest.AssertNoLeak(t, "step error", err.Error(), e.secrets...)
		noCanary(t, "step error", err.Error())
	}
}

// TestEngineRotations: whole rotations through RotateSecret, the engine and
// the emulator, against each provider fake.
func TestEngineRotations(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			e := newEngineEnv(t, p)
			for i := range 3 {
				e.ResetSMCalls()
				if err := e.Rotate(t, e.arn); err != nil {
					t.Fatalf("rotation %d: %v", i+1, err)
				}
				t.Logf("rotation %d: %d Secrets Manager calls", i+1, e.SMCalls())
				e.currentWorks(t, "after the rotation")
				if _, sec := e.key(t, "AWSPREVIOUS"); !e.f.Works(sec) {
					t.Errorf("rotation %d: the AWSPREVIOUS key stopped working: no overlap", i+1)
				}
				e.onlyStoredKeysLive(t)
			}
			e.noLeaks(t)
		})
	}
}

// TestEngineStepByStep: AWSCURRENT authenticates after every step.
func TestEngineStepByStep(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			e := newEngineEnv(t, p)
			if err := e.Rotate(t, e.arn); err != nil {
				t.Fatal(err)
			}
			tok := e.Begin(t, e.arn)
			e.currentWorks(t, "after RotateSecret")
			for _, step := range []string{"createSecret", "setSecret", "testSecret", "finishSecret"} {
				if err := e.step(t, tok, step); err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				e.currentWorks(t, "after "+step)
			}
			if !slices.Contains(e.Stages(t, e.arn)[tok], "AWSCURRENT") {
				t.Errorf("the pending version did not become AWSCURRENT: %v", e.Stages(t, e.arn))
			}
			e.onlyStoredKeysLive(t)
			e.noLeaks(t)
		})
	}
}

// TestEngineCreateRetried: the provider minted a key but storing it as
// AWSPENDING failed. With the engine's retire-on-failure working, and with it
// failing too (as after a crash between mint and PutSecretValue), the retried
// createSecret leaves exactly one live new key, and the rotation completes.
func TestEngineCreateRetried(t *testing.T) {
	revokeFault := map[string]fakes.Fault{
		"sendgrid": {Method: "DELETE", Status: 500, Times: 100},
		"twilio":   {Method: "DELETE", Status: 500, Times: 100},
		// Skip the deactivation that makes room for the new secret.
		"okta":             {Path: "/lifecycle/deactivate", Status: 500, Times: 100, Skip: 1},
		"entra-app-secret": {Path: "/removePassword", Status: 500, Times: 100},
	}
	for _, p := range providers {
		for _, discardFails := range []bool{false, true} {
			name := p.name + "/discard works"
			if discardFails {
				name = p.name + "/discard fails too"
			}
			t.Run(name, func(t *testing.T) {
				e := newEngineEnv(t, p)
				if err := e.Rotate(t, e.arn); err != nil {
					t.Fatal(err)
				}
				before := len(e.f.All())
				tok := e.Begin(t, e.arn)
				e.AWS.InjectFault(localaws.Fault{Operation: "PutSecretValue", Kind: localaws.InternalError, Count: 3})
				if discardFails {
					e.f.Inject(revokeFault[p.name])
				}
				if err := e.step(t, tok, "createSecret"); err == nil {
					t.Fatal("createSecret succeeded although PutSecretValue failed")
				}
				e.AWS.ClearFaults()
				e.f.Clear()
				e.currentWorks(t, "after the failed createSecret")
				if discardFails {
					// The scenario needs the unstored key to have survived.
					curID, _ := e.key(t, "AWSCURRENT")
					prevID, _ := e.key(t, "AWSPREVIOUS")
					orphans := 0
					for _, id := range liveIDs(e.f) {
						if id != curID && id != prevID {
							orphans++
						}
					}
					if orphans != 1 {
						t.Fatalf("%d unstored live keys after the failed createSecret, want 1 for this scenario", orphans)
					}
				}
				if !discardFails && p.name != "okta" && len(e.f.All()) != before {
					t.Errorf("the unstored key was not retired: %d keys, want %d", len(e.f.All()), before)
				}
				if err := e.step(t, tok, "createSecret"); err != nil {
					t.Fatalf("retried createSecret: %v", err)
				}
				e.currentWorks(t, "after the retried createSecret")
				pendID, _ := e.key(t, "AWSPENDING")
				curID, _ := e.key(t, "AWSCURRENT")
				prevID, _ := e.key(t, "AWSPREVIOUS")
				var fresh []string
				for _, id := range liveIDs(e.f) {
					if id != curID && id != prevID {
						fresh = append(fresh, id)
					}
				}
				if !slices.Equal(fresh, []string{pendID}) {
					t.Errorf("live keys not held by AWSCURRENT/AWSPREVIOUS: %v, want exactly the pending key %s", fresh, pendID)
				}
				for _, step := range []string{"setSecret", "testSecret", "finishSecret"} {
					if err := e.step(t, tok, step); err != nil {
						t.Fatalf("%s: %v", step, err)
					}
					e.currentWorks(t, "after "+step)
				}
				e.onlyStoredKeysLive(t)
				e.noLeaks(t)
			})
		}
	}
}

// TestEngineServiceRetries: Secrets Manager itself re-drives a rotation whose
// createSecret failed after the mint (PutSecretValue failed), or whose
// finishSecret failed after the revocation (the stage move failed), with the
// same token; the rotation completes with exactly the AWSCURRENT and
// AWSPREVIOUS keys live.
func TestEngineServiceRetries(t *testing.T) {
	for _, p := range providers {
		for _, op := range []string{"PutSecretValue", "UpdateSecretVersionStage"} {
			t.Run(p.name+"/"+op, func(t *testing.T) {
				e := newEngineEnv(t, p, rotationtest.Options{Server: localaws.Options{RotationRetries: 2}})
				if err := e.Rotate(t, e.arn); err != nil {
					t.Fatal(err)
				}
				e.AWS.InjectFault(localaws.Fault{Operation: op, Kind: localaws.InternalError, Count: 3})
				if err := e.Rotate(t, e.arn); err != nil {
					t.Fatalf("rotation with a failing %s: %v", op, err)
				}
				runs := e.AWS.Rotations(e.arn)
				if last := runs[len(runs)-1]; last.Attempts < 2 {
					t.Errorf("the fault did not make the service retry (attempts %d)", last.Attempts)
				}
				e.currentWorks(t, "after the retried rotation")
				e.onlyStoredKeysLive(t)
				e.noLeaks(t)
			})
		}
	}
}

// TestEngineFinishTwice: finishSecret revoked the old key, then moving
// AWSCURRENT failed; the retried finishSecret revokes nothing more and
// completes. A third call is a no-op.
func TestEngineFinishTwice(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			e := newEngineEnv(t, p)
			if err := e.Rotate(t, e.arn); err != nil {
				t.Fatal(err)
			}
			tok := e.Begin(t, e.arn)
			for _, step := range []string{"createSecret", "setSecret", "testSecret"} {
				if err := e.step(t, tok, step); err != nil {
					t.Fatalf("%s: %v", step, err)
				}
			}
			keys := len(e.f.All())
			e.AWS.InjectFault(localaws.Fault{Operation: "UpdateSecretVersionStage", Kind: localaws.InternalError, Count: 3})
			if err := e.step(t, tok, "finishSecret"); err == nil {
				t.Fatal("finishSecret succeeded although the stage move failed")
			}
			e.AWS.ClearFaults()
			e.currentWorks(t, "after the failed finishSecret")
			afterFirst := len(e.f.All())
			for i := range 2 {
				if err := e.step(t, tok, "finishSecret"); err != nil {
					t.Fatalf("finishSecret retry %d: %v", i+1, err)
				}
				e.currentWorks(t, "after the retried finishSecret")
			}
			if got := len(e.f.All()); got != afterFirst {
				t.Errorf("retried finishSecret removed %d more keys", afterFirst-got)
			}
			if p.name != "okta" && keys-afterFirst != 1 {
				t.Errorf("finishSecret revoked %d keys, want 1", keys-afterFirst)
			}
			e.onlyStoredKeysLive(t)
			e.noLeaks(t)
		})
	}
}

// TestEngineProviderDown: a provider that keeps failing makes the rotation
// fail cleanly, with AWSCURRENT untouched and working and no secret in the
// recorded error or the logs.
func TestEngineProviderDown(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			e := newEngineEnv(t, p)
			e.f.EchoRequests(true)
			e.f.Inject(fakes.Fault{Status: 500, Times: 1000})
			err := e.Rotate(t, e.arn)
			var rerr *rotationtest.RotationError
			if !errors.As(err, &rerr) {
				t.Fatalf("Rotate = %v, want a recorded failure", err)
			}
			e.errs = append(e.errs, err)
			if !strings.Contains(err.Error(), "HTTP 500") {
				t.Errorf("the recorded error does not name the provider status: %v", err)
			}
			e.f.Clear()
			e.currentWorks(t, "after the failed rotation")
			e.noLeaks(t)
		})
	}
}

// BenchmarkRotation reports, per whole rotation through the engine, the
// Secrets Manager calls and the provider calls (API budget, not time).
func BenchmarkRotation(b *testing.B) {
	for _, p := range providers {
		b.Run(p.name, func(b *testing.B) {
			e := newEngineEnv(b, p)
			if err := e.Rotate(b, e.arn); err != nil { // past the first rotation: AWSPREVIOUS exists
				b.Fatal(err)
			}
			ops := []string{"create", "list", "get", "delete", "deactivate", "verify"}
			count := func() (n int) {
				for _, op := range ops {
					n += e.f.Calls(op)
				}
				return n
			}
			before := count()
			e.ResetSMCalls()
			n := 0
			for b.Loop() {
				if err := e.Rotate(b, e.arn); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(e.SMCalls())/float64(n), "sm-calls/op")
			b.ReportMetric(float64(count()-before)/float64(n), "provider-calls/op")
		})
	}
}
