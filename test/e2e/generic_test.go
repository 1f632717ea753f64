package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestGenericUnderRIE rotates a generic secret with the built bootstrap binary
// running under the Lambda Runtime Interface Emulator, invoked over HTTP by
// the emulator's RotateSecret.
func TestGenericUnderRIE(t *testing.T) {
	rie, boot := rieBinary(t), function(t, "generic")
	aws0 := localaws.Start(t)
	creds := aws0.DefaultCredentials()
	fn, err := lambdarie.Start(t.Context(), rie, boot, []string{
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
		"AWS_ENDPOINT_URL=" + aws0.URL,
		"ROTARY_HOME_ACCOUNT=" + localaws.DefaultAccount,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Stop)
	const fnARN = "arn:aws:lambda:us-east-1:123456789012:function:generic"
	aws0.RegisterFunction(fnARN, localaws.HTTPFunction(fn.InvokeURL))
	sm := secretsmanager.NewFromConfig(aws0.AWSConfig(creds, ""))
	out, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("e2e/generic"), SecretString: aws.String(secret.Value{Engine: "generic", Password: "initial-value-0001"}.StoredJSON()),
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
	t.Logf("logs:\n%s", fn.Logs())
}
