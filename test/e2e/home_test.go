package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// rieAccount is the account of every function ARN the RIE hands the runtime
// (arn:aws:lambda:us-east-1:012345678912:function:<AWS_LAMBDA_FUNCTION_NAME>).
const rieAccount = "012345678912"

// TestAccountModeNoSTSUnderRIE: a built function in account mode without
// ROTARY_HOME_ACCOUNT takes its account from the invoked function's ARN, so a
// cold start and a whole rotation make no STS call at all.
func TestAccountModeNoSTSUnderRIE(t *testing.T) {
	aws0 := localaws.Start(t)
	creds := aws0.AddAccount(rieAccount)
	fn, fnARN := startUnderRIE(t, aws0, creds, rieAccount, "generic", "AWS_LAMBDA_FUNCTION_NAME=generic")
	sm := secretsmanager.NewFromConfig(aws0.AWSConfig(creds, ""))
	out, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("e2e/home"), SecretString: aws.String(secret.Value{Engine: "generic", Password: "initial-value-0001"}.StoredJSON()),
		Tags: rig.RotateTags(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: out.ARN, RotationLambdaARN: aws.String(fnARN)}); err != nil {
		t.Fatal(err)
	}
	runs := aws0.Rotations(aws.ToString(out.ARN))
	if len(runs) != 1 || runs[0].Outcome != localaws.Succeeded {
		t.Fatalf("rotation runs = %+v\nfunction logs:\n%s", runs, fn.Logs())
	}
	for _, op := range []string{"GetCallerIdentity", "AssumeRole"} {
		if n := aws0.Calls(op, ""); n != 0 {
			t.Errorf("%s calls = %d, want 0 (account mode, account from the invoked function's ARN)", op, n)
		}
	}
}
