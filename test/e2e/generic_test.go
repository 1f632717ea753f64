package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestGenericUnderRIE rotates a generic secret with the built bootstrap binary
// running under the Lambda Runtime Interface Emulator, invoked over HTTP by
// the emulator's RotateSecret.
func TestGenericUnderRIE(t *testing.T) {
	aws0 := localaws.Start(t)
	creds := aws0.DefaultCredentials()
	fn, fnARN := startUnderRIE(t, aws0, creds, localaws.DefaultAccount, "generic", "ROTARY_HOME_ACCOUNT="+localaws.DefaultAccount)
	sm := secretsmanager.NewFromConfig(aws0.AWSConfig(creds, ""))
	out, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(rig.GenericSecretName), SecretString: aws.String(rig.GenericSecretValue()),
		Tags: rig.RotateTags(), // as the README tells users to
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
