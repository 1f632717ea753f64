package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestIAMAccessKeyUnderRIE rotates an IAM user's access key twice with the
// built iam-access-key bootstrap under the Runtime Interface Emulator,
// against localaws's IAM API: after each rotation the user holds exactly the
// AWSCURRENT and AWSPREVIOUS keys, the AWSCURRENT one authenticates as the
// user, and the IAM requests logged for the IAM oracle carry the user's tags
// (checkIAMRequests).
func TestIAMAccessKeyUnderRIE(t *testing.T) {
	aws0 := localaws.Start(t, localaws.Options{VerifySignatures: true}) // a wrong secretAccessKey is refused
	creds := aws0.DefaultCredentials()
	fn, fnARN := startUnderRIE(t, aws0, creds, localaws.DefaultAccount, "iam-access-key", "ROTARY_HOME_ACCOUNT="+localaws.DefaultAccount, "ROTARY_FUNCTION=iam-access-key")

	// Tagged rotary:secret with the secret's full ARN once it is stored.
	userARN := aws0.AddUser(localaws.IAMUser{Account: localaws.DefaultAccount, Name: "deploy-bot",
		Tags: map[string]string{"rotary:rotate": "true"}})
	k, err := aws0.IssueUserKey(localaws.DefaultAccount, "deploy-bot")
	if err != nil {
		t.Fatal(err)
	}
	v := secret.Value{Engine: "iam-access-key", Username: "deploy-bot"}
	v.Set("accessKeyId", k.AccessKeyID)
	v.Set("secretAccessKey", k.SecretAccessKey)
	sm := secretsmanager.NewFromConfig(aws0.AWSConfig(creds, ""))
	out, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("e2e/iam-access-key"), SecretString: aws.String(v.StoredJSON()), Tags: rig.RotateTags(),
	})
	if err != nil {
		t.Fatal(err)
	}
	aws0.TagUser(localaws.DefaultAccount, "deploy-bot", rig.TagSecret, aws.ToString(out.ARN))
	for i := range 2 {
		aws0.ResetRequestLog()
		if _, err := sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: out.ARN, RotationLambdaARN: aws.String(fnARN)}); err != nil {
			t.Fatal(err)
		}
		runs := aws0.Rotations(aws.ToString(out.ARN))
		if len(runs) != i+1 || runs[i].Outcome != localaws.Succeeded {
			t.Fatalf("rotation %d: runs = %+v\nfunction logs:\n%s", i, runs, fn.Logs())
		}
		ids := map[string]bool{}
		for _, stage := range []string{"AWSCURRENT", "AWSPREVIOUS"} {
			got, err := sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: out.ARN, VersionStage: aws.String(stage)})
			if err != nil {
				t.Fatal(err)
			}
			if stage == "AWSCURRENT" {
				checkIAMRequests(t, aws0.RequestLog(), userARN, aws.ToString(got.VersionId))
			}
			sv, err := secret.Parse([]byte(aws.ToString(got.SecretString)))
			if err != nil {
				t.Fatal(err)
			}
			id, _ := sv.Get("accessKeyId")
			ids[id] = true
			if stage == "AWSCURRENT" {
				sk, _ := sv.Get("secretAccessKey")
				if who := callerARN(t, aws0, id, sk); who != userARN {
					t.Fatalf("rotation %d: AWSCURRENT key is %q, want %s", i, who, userARN)
				}
				if who := callerARN(t, aws0, id, "wrong-"+sk); who != "" {
					t.Fatalf("rotation %d: AWSCURRENT's key ID with a wrong secret authenticated as %q (the emulator must verify signatures)", i, who)
				}
			}
		}
		have, _ := aws0.UserKeys(localaws.DefaultAccount, "deploy-bot")
		if len(have) != 2 || !ids[have[0]] || !ids[have[1]] {
			t.Fatalf("rotation %d: user keys %v, want AWSCURRENT's and AWSPREVIOUS's %v", i, have, ids)
		}
	}
}

// callerARN returns who sts:GetCallerIdentity says the key is ("" when refused).
func callerARN(t *testing.T, s *localaws.Server, id, sk string) string {
	cfg := s.AWSConfig(localaws.Credentials{AccessKeyID: id, SecretAccessKey: sk}, "us-east-1")
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		return ""
	}
	return aws.ToString(out.Arn)
}

// checkIAMRequests: the rotation's IAM requests, as localaws logged them for
// the IAM oracle, are on the user with its rotary:rotate=true tag (what the
// roles' statements require), and the one iam:TagUser writes only
// rotary:minting with this rotation's token (the new AWSCURRENT version).
func checkIAMRequests(t *testing.T, log []localaws.LoggedRequest, userARN, token string) {
	t.Helper()
	tagged := 0
	for _, r := range log {
		if !strings.HasPrefix(r.Action, "iam:") {
			continue
		}
		if r.Resource != userARN || !slices.Equal(r.Context["aws:ResourceTag/rotary:rotate"], []string{"true"}) {
			t.Errorf("%s on %s with context %v, want the user tagged rotary:rotate=true", r.Action, r.Resource, r.Context)
		}
		if r.Action == "iam:TagUser" {
			tagged++
			if v := r.Context["aws:RequestTag/rotary:minting"]; !slices.Equal(r.Context["aws:TagKeys"], []string{"rotary:minting"}) || len(v) != 1 || !strings.HasPrefix(v[0], token+" ") {
				t.Errorf("iam:TagUser context %v, want only rotary:minting = %q and the time", r.Context, token)
			}
		}
	}
	if tagged != 1 {
		t.Errorf("%d iam:TagUser requests logged, want 1", tagged)
	}
}
