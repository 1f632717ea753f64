package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestCentralRotatesMemberSecrets is acceptance 1's happy path: the central
// bootstrap under the RIE, in central mode, rotates PostgreSQL and MariaDB
// secrets (single user and alternating users) that live in two member
// accounts, invoked by Secrets Manager's RotateSecret over HTTP. Each secret
// is rotated twice; after each rotation the stages moved, the new credential
// logs in, and the old one is refused (single user) or still works
// (alternating users). The function assumes each member role once, and its
// logs hold no password and no ExternalId.
func TestCentralRotatesMemberSecrets(t *testing.T) {
	pg, maria, bundle := targets(t)
	w := world(t)
	fn := startFunction(t, w, function(t, "central"), rig.CentralConfig(bundle))

	var secrets []*rig.Secret
	for i, c := range rig.CentralCases(pg, maria) {
		s, err := w.Provision(t.Context(), c)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		secrets = append(secrets, s)
	}
	for _, s := range secrets {
		t.Run(s.Name, func(t *testing.T) {
			for round := 1; round <= rig.CentralRounds; round++ {
				r, err := w.Rotate(t.Context(), s, fn)
				if err != nil {
					t.Fatal(err)
				}
				c := w.Verify(t.Context(), s, r)
				if !c.OK() {
					t.Fatalf("rotation %d of %s (%s, %s) in %s: %v", round, s.Name, s.Target.Engine(), s.Strategy, s.Account, c.Err())
				}
				switch s.Strategy {
				case rotators.SingleUser:
					if !c.OldRejected || c.NewUser != s.User {
						t.Errorf("rotation %d: %+v, want the old password rejected and user %s kept", round, c, s.User)
					}
				default:
					if !c.OldKept {
						t.Errorf("rotation %d: %+v, want AWSPREVIOUS kept", round, c)
					}
					want := s.User + rig.CloneSuffix
					if round == 2 {
						want = s.User
					}
					if c.NewUser != want {
						t.Errorf("rotation %d: AWSCURRENT user %s, want %s", round, c.NewUser, want)
					}
				}
			}
		})
	}

	// One AssumeRole per member account for the whole run (the credentials
	// are cached in the warm function), none into the central account.
	if got := w.AWS.Calls("AssumeRole", rig.CentralAccount); got != 2 {
		t.Errorf("AssumeRole calls by the central account = %d, want 2 (one per member)", got)
	}
	logs := fn.Logs()
	for _, s := range secrets {
		if err := s.FindLeak("function logs", logs); err != nil {
			t.Error(err)
		}
	}
	if strings.Contains(logs, rig.ExternalID) {
		t.Error("function logs hold the ExternalId")
	}
	if fn.TokensSeen() != len(secrets)*rig.CentralRounds {
		t.Errorf("the function saw %d RotationTokens, want %d (one per rotation)", fn.TokensSeen(), len(secrets)*rig.CentralRounds)
	}
	if err := fn.FindTokenLeak("function logs", logs); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logs, `"rotation step finished"`) {
		t.Errorf("function logs have no step line; logs:\n%s", logs)
	}
}

// TestCentralRefuses: the central function refuses, with a clear error and
// without writing anything, a secret in an account missing from the
// allow-list (making no AssumeRole call at all, although that account's role
// would let it in), a member whose role wants another ExternalId, and a
// secret whose engine no rotator handles.
func TestCentralRefuses(t *testing.T) {
	pg, _, bundle := targets(t)
	w := world(t)
	const (
		notAllowed = "444444444444" // role trusts central with the right ExternalId; not in the allow-list
		otherExtID = "555555555555" // allowed; its role wants another ExternalId
	)
	w.AddMember(notAllowed, rig.ExternalID)
	w.AddMember(otherExtID, "another-external-id-9e2b")
	cfg := rig.CentralConfig(bundle)
	cfg.Allowed = append(cfg.Allowed, otherExtID)
	fn := startFunction(t, w, function(t, "central"), cfg)

	t.Run("account not allowed", func(t *testing.T) {
		s, err := w.Provision(t.Context(), rig.Case{Name: "stray/postgres", Account: notAllowed, Target: pg, Strategy: rotators.SingleUser})
		if err != nil {
			t.Fatal(err)
		}
		w.AWS.ResetCalls()
		r := rotateExpectFailure(t, w, s, fn, "createSecret", "account not allowed", awsx.EnvAllowedAccounts, notAllowed)
		if n := w.AWS.Calls("AssumeRole", ""); n != 0 {
			t.Errorf("%d AssumeRole calls during the rotation of a secret in a non-allowed account, want 0", n)
		}
		noFunctionCalls(t, w, notAllowed)
		if err := w.Unchanged(t.Context(), s, r); err != nil {
			t.Error(err)
		}
	})

	t.Run("wrong ExternalId", func(t *testing.T) {
		s, err := w.Provision(t.Context(), rig.Case{Name: "ext/postgres", Account: otherExtID, Target: pg, Strategy: rotators.SingleUser})
		if err != nil {
			t.Fatal(err)
		}
		w.AWS.ResetCalls()
		r := rotateExpectFailure(t, w, s, fn, "createSecret", "assume member role", "arn:aws:iam::"+otherExtID+":role/"+rig.RoleName, awsx.EnvExternalID)
		if n := w.AWS.Calls("AssumeRole", rig.CentralAccount); n == 0 {
			t.Error("no AssumeRole call: the refusal should come from STS")
		}
		noFunctionCalls(t, w, otherExtID)
		if err := w.Unchanged(t.Context(), s, r); err != nil {
			t.Error(err)
		}
		if strings.Contains(fn.Logs(), rig.ExternalID) {
			t.Error("function logs hold the ExternalId")
		}
	})

	t.Run("unknown engine", func(t *testing.T) {
		sm := w.SecretsManager(rig.MemberA)
		v := secret.Value{Engine: "oracle", Host: "127.0.0.1", Port: 1521, Username: "scott", Password: "Init-" + rig.RandomHex(8)}
		out, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("legacy/oracle"), SecretString: aws.String(v.StoredJSON())})
		if err != nil {
			t.Fatal(err)
		}
		s := &rig.Secret{Case: rig.Case{Name: "legacy/oracle", Account: rig.MemberA}, ARN: aws.ToString(out.ARN)}
		w.AWS.ResetCalls()
		rotateExpectFailure(t, w, s, fn, "createSecret", `engine "oracle" is not supported`, "postgres", "mariadb", "sendgrid")
		for _, op := range []string{"PutSecretValue", "UpdateSecretVersionStage"} {
			if n := w.AWS.Calls(op, rig.MemberA); n != 0 {
				t.Errorf("%d %s calls for a secret no rotator handles, want 0", n, op)
			}
		}
		got, err := sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: out.ARN})
		if err != nil || aws.ToString(got.VersionId) != aws.ToString(out.VersionId) {
			t.Errorf("AWSCURRENT moved: version %s, want %s (err %v)", aws.ToString(got.VersionId), aws.ToString(out.VersionId), err)
		}
	})
}

// TestDropTokenFails is acceptance 1's guard against a function that drops
// RotationToken: the test-only droptoken function (the real engine, with the
// token blanked before it runs) cannot store the pending value in a member
// account, because Secrets Manager refuses PutSecretValue from assumed-role
// credentials without the token. The rotation fails and nothing is written.
func TestDropTokenFails(t *testing.T) {
	pg, _, bundle := targets(t)
	w := world(t)
	cfg := rig.CentralConfig(bundle)
	cfg.Name = "rotary-droptoken"
	fn := startFunction(t, w, dropTokenFunction(t), cfg)
	s, err := w.Provision(t.Context(), rig.Case{Name: "orders/postgres-droptoken", Account: rig.MemberA, Target: pg, Strategy: rotators.SingleUser})
	if err != nil {
		t.Fatal(err)
	}
	w.AWS.ResetCalls()
	r := rotateExpectFailure(t, w, s, fn, "createSecret", "AccessDeniedException", "RotationToken")
	if fn.TokensSeen() == 0 {
		t.Error("Secrets Manager sent no RotationToken, so the test proves nothing")
	}
	if n := w.AWS.Calls("PutSecretValue", rig.MemberA); n == 0 {
		t.Error("no PutSecretValue reached the member account: the failure should come from Secrets Manager refusing it")
	}
	if err := w.Unchanged(t.Context(), s, r); err != nil {
		t.Error(err)
	}
}

// rotateExpectFailure rotates s with fn, expects the run to fail at step with
// an error holding every one of want, and returns the rotation.
func rotateExpectFailure(t *testing.T, w *rig.World, s *rig.Secret, fn *rig.Function, step string, want ...string) rig.Rotation {
	t.Helper()
	r, err := w.Rotate(t.Context(), s, fn)
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.Outcome != localaws.Failed {
		t.Fatalf("rotation of %s: outcome %s, want Failed", s.Name, r.Run.Outcome)
	}
	last := r.Run.Steps[len(r.Run.Steps)-1]
	if last.Step != step {
		t.Errorf("rotation failed at %s, want %s: %s", last.Step, step, last.Error)
	}
	for _, wnt := range want {
		if !strings.Contains(last.Error, wnt) {
			t.Errorf("error %q does not mention %q", last.Error, wnt)
		}
	}
	if err := s.FindLeak("step error", last.Error); err != nil {
		t.Error(err)
	}
	if err := fn.FindTokenLeak("step error", last.Error); err != nil {
		t.Error(err)
	}
	if err := fn.FindTokenLeak("function logs", fn.Logs()); err != nil {
		t.Error(err)
	}
	t.Logf("%s refused as expected: %s", s.Name, last.Error)
	return r
}

// noFunctionCalls fails t if the function reached Secrets Manager in account
// (the owner's RotateSecret and the rig's own read are not the function's).
func noFunctionCalls(t *testing.T, w *rig.World, account string) {
	t.Helper()
	for _, op := range []string{"DescribeSecret", "PutSecretValue", "UpdateSecretVersionStage", "GetRandomPassword", "AssumeRole"} {
		if n := w.AWS.Calls(op, account); n != 0 {
			t.Errorf("%d %s calls in account %s, want 0", n, op, account)
		}
	}
}

// describe is for failure messages.
func describe(s *rig.Secret) string {
	return fmt.Sprintf("%s (%s, %s) in %s", s.Name, s.Target.Engine(), s.Strategy, s.Account)
}
