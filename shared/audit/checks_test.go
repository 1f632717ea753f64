package audit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/shared/audit"
	"github.com/rotary-secrets/rotary/test/localaws"
)

const days = 24 * time.Hour

// checkCase plants one state that must fire check and a near miss (the
// twin) that must not.
type checkCase struct {
	check      audit.Check
	severity   audit.Severity
	fire, twin func(w *world, name string) string // returns the secret ARN
}

func policy(stmt string) *string {
	p := `{"Version":"2012-10-17","Statement":[` + stmt + `]}`
	return &p
}

var checkCases = []checkCase{
	{audit.RotationDisabled, audit.Medium,
		func(w *world, n string) string { return w.create(memberA, n, map[string]string{"team": "x"}, cmk) },
		func(w *world, n string) string { return w.clean(memberA, n) }},
	{audit.RotationDisabled, audit.Medium, // turned off after being configured; twin: managed by RDS
		func(w *world, n string) string {
			a := w.clean(memberB, n)
			w.plant(memberB, a, localaws.SecretState{RotationOff: true})
			return a
		},
		func(w *world, n string) string {
			a := w.create(memberB, n, map[string]string{"team": "x"}, cmk)
			w.plant(memberB, a, localaws.SecretState{OwningService: "rds"})
			return a
		}},
	{audit.RotationDisabled, audit.Medium, // twin: a replica, whose rotation is the primary region's
		func(w *world, n string) string { return w.create(memberA, n, map[string]string{"team": "x"}, cmk) },
		func(w *world, n string) string {
			a := w.create(memberA, n, map[string]string{"team": "x"}, cmk)
			w.plant(memberA, a, localaws.SecretState{PrimaryRegion: "eu-west-1"})
			return a
		}},
	{audit.RotationOverdue, audit.High,
		func(w *world, n string) string {
			a := w.clean(memberA, n)
			w.plant(memberA, a, localaws.SecretState{LastRotated: w.now.Add(-40 * days)})
			return a
		},
		func(w *world, n string) string { // 30 days + 12 h: inside the 24 h grace
			a := w.clean(memberA, n)
			w.plant(memberA, a, localaws.SecretState{LastRotated: w.now.Add(-30*days - 12*time.Hour)})
			return a
		}},
	{audit.RotationOverdue, audit.High, // no schedule: 90 days
		func(w *world, n string) string {
			a := w.create(home, n, map[string]string{"team": "x"}, cmk)
			w.plant(home, a, localaws.SecretState{Created: w.now.Add(-100 * days), LastAccessed: w.now})
			return a
		},
		func(w *world, n string) string {
			a := w.create(home, n, map[string]string{"team": "x"}, cmk)
			w.plant(home, a, localaws.SecretState{Created: w.now.Add(-80 * days), LastAccessed: w.now})
			return a
		}},
	{audit.RotationStuck, audit.High, // createSecret succeeded, a later step keeps failing
		func(w *world, n string) string {
			a := w.clean(memberA, n)
			w.plant(memberA, a, localaws.SecretState{Pending: &localaws.PlantedPending{Created: w.now.Add(-3 * days), WithValue: true}})
			return a
		},
		func(w *world, n string) string { // a rotation running right now
			a := w.clean(memberA, n)
			w.plant(memberA, a, localaws.SecretState{Pending: &localaws.PlantedPending{Created: w.now.Add(-time.Hour), WithValue: true}})
			return a
		}},
	{audit.RotationStuck, audit.High, // a real RotateSecret whose createSecret fails: valueless placeholder
		func(w *world, n string) string {
			a := w.clean(memberB, n)
			w.aws.RegisterFunction(fleetFn, localaws.HandlerFunction(func(context.Context, []byte) ([]byte, error) {
				return nil, errors.New("target unreachable")
			}))
			if _, err := w.admin[memberB].RotateSecret(w.t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(a), RotationLambdaARN: aws.String(fleetFn)}); err != nil {
				w.t.Fatal(err)
			}
			w.plant(memberB, a, localaws.SecretState{LastChanged: w.now.Add(-2 * days)})
			return a
		},
		func(w *world, n string) string { // AWSPENDING on the AWSCURRENT version: finished
			return w.clean(memberB, n)
		}},
	{audit.RotationFunctionOutside, audit.Medium, // the fleet's name, in an account outside the fleet
		func(w *world, n string) string {
			a := w.clean(memberA, n)
			w.plant(memberA, a, localaws.SecretState{Rotation: &localaws.PlantedRotation{LambdaARN: "arn:aws:lambda:us-east-1:999999999999:function:rotary-central", Rules: localaws.RotationRules{AutomaticallyAfterDays: aws.Int64(30)}}})
			return a
		},
		func(w *world, n string) string { // a per-account copy in the secret's own account
			a := w.clean(memberA, n)
			w.plant(memberA, a, localaws.SecretState{Rotation: &localaws.PlantedRotation{LambdaARN: "arn:aws:lambda:us-east-1:" + memberA + ":function:rotary-postgres-single", Rules: localaws.RotationRules{AutomaticallyAfterDays: aws.Int64(30)}}})
			return a
		}},
	{audit.Unused, audit.Low,
		func(w *world, n string) string {
			a := w.clean(memberB, n)
			w.plant(memberB, a, localaws.SecretState{LastAccessed: w.now.Add(-100 * days)})
			return a
		},
		func(w *world, n string) string {
			a := w.clean(memberB, n)
			w.plant(memberB, a, localaws.SecretState{LastAccessed: w.now.Add(-80 * days)})
			return a
		}},
	{audit.AWSManagedKey, audit.Low,
		func(w *world, n string) string {
			a := w.clean(home, n)
			w.plant(home, a, localaws.SecretState{KmsKeyID: "alias/aws/secretsmanager"})
			return a
		},
		func(w *world, n string) string { return w.clean(home, n) }},
	{audit.AWSManagedKey, audit.Low, // no KmsKeyId at all
		func(w *world, n string) string {
			a := w.create(home, n, map[string]string{"team": "x"}, "")
			w.plant(home, a, localaws.SecretState{Rotation: &localaws.PlantedRotation{LambdaARN: fleetFn, Rules: localaws.RotationRules{AutomaticallyAfterDays: aws.Int64(30)}}, LastRotated: w.now, LastAccessed: w.now})
			return a
		},
		func(w *world, n string) string {
			a := w.clean(home, n)
			w.plant(home, a, localaws.SecretState{KmsKeyID: "alias/team-key"})
			return a
		}},
	{audit.PublicOrExternalPolicy, audit.Critical,
		func(w *world, n string) string {
			a := w.clean(memberA, n)
			w.plant(memberA, a, localaws.SecretState{ResourcePolicy: policy(`{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}`)})
			return a
		},
		func(w *world, n string) string { // * confined to the organization
			a := w.clean(memberA, n)
			w.plant(memberA, a, localaws.SecretState{ResourcePolicy: policy(`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"` + orgID + `"}}}`)})
			return a
		}},
	{audit.PublicOrExternalPolicy, audit.High,
		func(w *world, n string) string { // through the API, as a user would
			a := w.clean(memberB, n)
			if _, err := w.admin[memberB].PutResourcePolicy(w.t.Context(), &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(a),
				ResourcePolicy: policy(`{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::` + memberA + `:root","arn:aws:iam::999999999999:role/x"]},"Action":"secretsmanager:GetSecretValue","Resource":"*"}`)}); err != nil {
				w.t.Fatal(err)
			}
			return a
		},
		func(w *world, n string) string { // another fleet account, and an external one denied
			a := w.clean(memberB, n)
			w.plant(memberB, a, localaws.SecretState{ResourcePolicy: policy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + memberA + `:role/app"},"Action":"secretsmanager:GetSecretValue","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}`)})
			return a
		}},
	{audit.MalformedPolicy, audit.Medium,
		func(w *world, n string) string {
			a := w.clean(memberA, n)
			w.plant(memberA, a, localaws.SecretState{ResourcePolicy: aws.String(`{"Statement":[{"Effect":"Allow","Principal":42}]}`)})
			return a
		},
		func(w *world, n string) string {
			a := w.clean(memberA, n)
			w.plant(memberA, a, localaws.SecretState{ResourcePolicy: policy(`{"Effect":"Deny","Principal":"*","Action":"secretsmanager:DeleteSecret","Resource":"*"}`)})
			return a
		}},
	{audit.MissingTags, audit.Low,
		func(w *world, n string) string {
			a := w.create(home, n, map[string]string{"owner": "x"}, cmk)
			w.plant(home, a, localaws.SecretState{Rotation: &localaws.PlantedRotation{LambdaARN: fleetFn, Rules: localaws.RotationRules{AutomaticallyAfterDays: aws.Int64(30)}}, LastRotated: w.now, LastAccessed: w.now})
			return a
		},
		func(w *world, n string) string { return w.clean(home, n) }},
	{audit.NameConvention, audit.Low,
		func(w *world, n string) string { return w.clean(home, "Legacy_"+strings.ReplaceAll(n, "/", "_")) },
		func(w *world, n string) string { return w.clean(home, n) }},
	{audit.DeletionScheduledRotating, audit.Medium,
		func(w *world, n string) string {
			a := w.clean(memberA, n)
			if _, err := w.admin[memberA].DeleteSecret(w.t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(a), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
				w.t.Fatal(err)
			}
			return a
		},
		func(w *world, n string) string {
			a := w.clean(memberA, n)
			w.plant(memberA, a, localaws.SecretState{RotationOff: true, Deleted: w.now})
			return a
		}},
	{audit.ReplicationFailed, audit.High,
		func(w *world, n string) string {
			a := w.clean(memberB, n)
			w.plant(memberB, a, localaws.SecretState{PrimaryRegion: region, Replicas: []localaws.ReplicaStatus{{Region: "eu-west-1", Status: "InSync"}, {Region: "eu-central-1", Status: "Failed", StatusMessage: "Replication failed: KMS key not found"}}})
			return a
		},
		func(w *world, n string) string {
			a := w.clean(memberB, n)
			w.plant(memberB, a, localaws.SecretState{PrimaryRegion: region, Replicas: []localaws.ReplicaStatus{{Region: "eu-west-1", Status: "InSync"}, {Region: "eu-central-1", Status: "InProgress"}}})
			return a
		}},
}

// TestChecksAgainstLocalaws plants every check's state and its near miss in
// localaws, audits the three accounts once and checks that each planted
// state fires its check (with its severity) and no twin does, that a clean
// secret has no finding at all, and that no value was read.
func TestChecksAgainstLocalaws(t *testing.T) {
	w := newWorld(t)
	clean := w.clean(memberA, "app/clean")
	type planted struct {
		c          checkCase
		fire, twin string
	}
	var ps []planted
	for i, c := range checkCases {
		ps = append(ps, planted{c, c.fire(w, name(i, "fire")), c.twin(w, name(i, "twin"))})
	}
	w.aws.ResetCalls()
	rep := w.scanner(testConfig()).Run(t.Context())
	got := byARN(rep.Findings)
	w.noValueRead()

	if fs := got[clean]; len(fs) > 0 {
		t.Errorf("clean secret: findings %v, want none", fs)
	}
	if fs := got[""]; len(fs) > 0 {
		t.Errorf("account findings %v, want none", fs)
	}
	for i, p := range ps {
		t.Run(string(p.c.check)+"/"+name(i, ""), func(t *testing.T) {
			i := slices.IndexFunc(got[p.fire], func(f audit.Finding) bool { return f.Check == p.c.check })
			if i < 0 {
				t.Fatalf("planted state: findings %v, want %s", checksOf(got[p.fire]), p.c.check)
			}
			f := got[p.fire][i]
			if f.Severity != p.c.severity {
				t.Errorf("severity %s, want %s", f.Severity, p.c.severity)
			}
			if !strings.Contains(f.Detail, "; fix: ") || f.Account == "" || f.Region != region || f.SecretName == "" {
				t.Errorf("finding %+v: want account, region, name and a detail with a fix", f)
			}
			t.Logf("%s: %s", f.Check, f.Detail)
			if slices.ContainsFunc(got[p.twin], func(f audit.Finding) bool { return f.Check == p.c.check }) {
				t.Errorf("near miss: findings %v, must not include %s", checksOf(got[p.twin]), p.c.check)
			}
		})
	}
	if rep.Summary.Vanished != 0 || rep.Summary.AccountsFailed != 0 {
		t.Errorf("summary %+v: want nothing vanished or failed", rep.Summary)
	}
	if want := 1 + 2*len(checkCases); rep.Summary.Secrets != want {
		t.Errorf("summary: %d secrets, want %d", rep.Summary.Secrets, want)
	}
	for _, m := range []string{memberA, memberB} {
		if n := w.aws.Calls("AssumeRole", home); n > 2 {
			t.Errorf("AssumeRole %d times for %s, want at most one per member account", n, m)
		}
	}
}
