package rotation_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/rotation"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// assumed records the role ARNs STS AssumeRole is asked for.
type assumed struct {
	mu    sync.Mutex
	roles []string
}

func (a *assumed) middleware(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("test.assumed",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if ar, ok := in.Parameters.(*sts.AssumeRoleInput); ok {
				a.mu.Lock()
				a.roles = append(a.roles, aws.ToString(ar.RoleArn))
				a.mu.Unlock()
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

func (a *assumed) count(role string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.roles {
		if r == role {
			n++
		}
	}
	return n
}

// TestMasterConfinedCentralMode: with the real central-mode client factory
// (awsx.Clients assuming member roles through STS), a secret in member
// account B whose masterarn names a secret in member account C, which the
// function may also reach, is refused: no AssumeRole into C, no call in C,
// while B's own role is assumed for B's own secret.
func TestMasterConfinedCentralMode(t *testing.T) {
	const memberB, memberC = "222222222222", "333333333333"
	env := rotationtest.New(t, &masterUser{Rotator: generic.New(password.Default(""))})
	s := env.AWS
	credsB := s.AddAccount(memberB)
	credsC := s.AddAccount(memberC)
	roleB := s.AddRole(localaws.Role{Account: memberB, Name: awsx.DefaultRoleName, TrustedAccounts: []string{localaws.DefaultAccount}})
	roleC := s.AddRole(localaws.Role{Account: memberC, Name: awsx.DefaultRoleName, TrustedAccounts: []string{localaws.DefaultAccount}})
	smB := secretsmanager.NewFromConfig(s.AWSConfig(credsB, ""))
	smC := secretsmanager.NewFromConfig(s.AWSConfig(credsC, ""))

	outC, err := smC.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: ptr("c/master"), SecretString: ptr(secret.Value{Username: "c_master", Password: "c-master-password-canary"}.StoredJSON()),
	})
	if err != nil {
		t.Fatal(err)
	}
	outB, err := smB.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: ptr("b/app"), SecretString: ptr(secret.Value{Engine: "generic", Username: "app", Password: "initial-password-0001", MasterARN: aws.ToString(outC.ARN)}.StoredJSON()),
	})
	if err != nil {
		t.Fatal(err)
	}
	arnB := aws.ToString(outB.ARN)
	// Start the rotation in B with a function that does nothing, so the
	// engine under test drives the steps itself.
	const idle = "arn:aws:lambda:us-east-1:" + localaws.DefaultAccount + ":function:idle"
	s.RegisterFunction(idle, localaws.HandlerFunction(func(context.Context, []byte) ([]byte, error) { return []byte("null"), nil }))
	rot, err := smB.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: ptr(arnB), RotationLambdaARN: ptr(idle)})
	if err != nil {
		t.Fatal(err)
	}
	token := aws.ToString(rot.VersionId)

	rec := &assumed{}
	base := s.AWSConfig(s.DefaultCredentials(), "")
	base.APIOptions = append(base.APIOptions, rec.middleware)
	clients := awsx.New(base, awsx.Config{Mode: awsx.ModeCentral, AllowedAccounts: []string{memberB, memberC}, HomeAccount: localaws.DefaultAccount})
	eng, err := rotation.New(rotation.Config{
		Clients: rotation.ClientsFunc(func(ctx context.Context, id, tok string) (rotation.SecretsManagerAPI, error) {
			return clients.SecretsManager(ctx, id, tok)
		}),
		Rotators: env.Registry,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.ResetCalls()
	err = eng.Handle(t.Context(), event(rotation.StepCreate, arnB, token))
	if !errors.Is(err, rotation.ErrForeignSecret) {
		t.Fatalf("err = %v, want ErrForeignSecret", err)
	}
	if got := rec.count(roleC); got != 0 {
		t.Fatalf("AssumeRole into account C %d times", got)
	}
	if got := s.Calls("", memberC); got != 0 {
		t.Fatalf("%d calls in account C", got)
	}
	if rec.count(roleB) == 0 || s.Calls("GetSecretValue", memberB) == 0 {
		t.Fatal("B's own secret was not read through B's role: the test proves nothing")
	}
	if got := s.Calls("PutSecretValue", memberB); got != 0 {
		t.Fatalf("%d PutSecretValue calls in B after the refusal", got)
	}
}
