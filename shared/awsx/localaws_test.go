package awsx_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/test/localaws"
)

const (
	centralAcct = "100000000001"
	memberA     = "200000000002"
	memberB     = "300000000003"
	strangerAcc = "400000000004"
	externalID  = "rotary-ext-Secret-1234"
	region      = "eu-west-1"
	rotToken    = "6f1c2e3d-0000-4000-8000-000000000001"
)

// fleet is an emulator with a central account, two member accounts that
// trust it with externalID, a stranger account, and one secret in each.
type fleet struct {
	srv     *localaws.Server
	central localaws.Credentials
	secrets map[string]string // account -> secret ARN
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{srv: localaws.Start(t), secrets: map[string]string{}}
	f.central = f.srv.AddAccount(centralAcct)
	for _, acct := range []string{centralAcct, memberA, memberB, strangerAcc} {
		creds := f.central
		if acct != centralAcct {
			creds = f.srv.AddAccount(acct)
			f.srv.AddRole(localaws.Role{Account: acct, Name: awsx.DefaultRoleName, TrustedAccounts: []string{centralAcct}, ExternalID: externalID})
		}
		sm := secretsmanager.NewFromConfig(f.srv.AWSConfig(creds, region))
		out, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
			Name:         aws.String("app/db"),
			SecretString: aws.String(`{"engine":"postgres","username":"app","password":"initial-Value-1"}`),
		})
		if err != nil {
			t.Fatalf("create secret in %s: %v", acct, err)
		}
		f.secrets[acct] = aws.ToString(out.ARN)
	}
	f.srv.ResetCalls()
	return f
}

func (f *fleet) clients(t *testing.T, env map[string]string) *awsx.Clients {
	t.Helper()
	cfg, err := awsx.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return awsx.New(f.srv.AWSConfig(f.central, region), cfg)
}

func TestCentralModeAgainstEmulator(t *testing.T) {
	f := newFleet(t)
	c := f.clients(t, map[string]string{
		awsx.EnvMode: "central", awsx.EnvAllowedAccounts: memberA + "," + memberB,
		awsx.EnvExternalID: externalID, awsx.EnvHomeAccount: centralAcct, awsx.EnvFunctionName: "rotary-central",
	})

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 60 {
		acct := []string{centralAcct, memberA, memberB}[i%3]
		wg.Go(func() {
			sm, err := c.SecretsManager(t.Context(), f.secrets[acct], rotToken)
			if err != nil {
				errs <- err
				return
			}
			out, err := sm.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(f.secrets[acct])})
			if err != nil {
				errs <- err
				return
			}
			if got := aws.ToString(out.ARN); got != f.secrets[acct] {
				errs <- errors.New("described " + got + ", want " + f.secrets[acct])
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := f.srv.Calls("AssumeRole", centralAcct); got != 2 {
		t.Errorf("AssumeRole calls = %d, want 2 (one per member account)", got)
	}
	if got := f.srv.Calls("GetCallerIdentity", ""); got != 0 {
		t.Errorf("GetCallerIdentity calls = %d, want 0", got)
	}
	if got := f.srv.Calls("DescribeSecret", memberA); got != 20 {
		t.Errorf("DescribeSecret calls in member A = %d, want 20", got)
	}
}

func TestNotAllowedAccountAgainstEmulator(t *testing.T) {
	f := newFleet(t)
	tests := []struct {
		name string
		env  map[string]string
	}{
		{name: "central, stranger not listed", env: map[string]string{awsx.EnvMode: "central", awsx.EnvAllowedAccounts: memberA, awsx.EnvExternalID: externalID}},
		{name: "account mode", env: map[string]string{awsx.EnvHomeAccount: centralAcct}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.srv.ResetCalls()
			c := f.clients(t, tt.env)
			for range 3 {
				if _, err := c.SecretsManager(t.Context(), f.secrets[strangerAcc], rotToken); !errors.Is(err, awsx.ErrAccountNotAllowed) {
					t.Fatalf("error = %v, want ErrAccountNotAllowed", err)
				}
			}
			if got := f.srv.Calls("AssumeRole", ""); got != 0 {
				t.Errorf("AssumeRole calls = %d, want 0", got)
			}
			if got := f.srv.TotalCalls(); got > 1 {
				t.Errorf("emulator calls = %d, want at most one GetCallerIdentity", got)
			}
		})
	}
}

func TestWrongExternalIDAgainstEmulator(t *testing.T) {
	f := newFleet(t)
	const wrong = "not-the-External-Id"
	c := f.clients(t, map[string]string{
		awsx.EnvMode: "central", awsx.EnvAllowedAccounts: memberA, awsx.EnvExternalID: wrong, awsx.EnvHomeAccount: centralAcct,
	})
	_, err := c.SecretsManager(t.Context(), f.secrets[memberA], rotToken)
	var are *awsx.AssumeRoleError
	if !errors.As(err, &are) {
		t.Fatalf("error = %v (%T), want *awsx.AssumeRoleError", err, err)
	}
	if are.Account != memberA || !strings.HasSuffix(are.RoleARN, ":role/"+awsx.DefaultRoleName) {
		t.Errorf("AssumeRoleError = {%s %s}, want member A's %s role", are.Account, are.RoleARN, awsx.DefaultRoleName)
	}
	for _, s := range []string{wrong, externalID} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains an ExternalId", err)
		}
	}
	if got := f.srv.Calls("GetSecretValue", memberA); got != 0 {
		t.Errorf("GetSecretValue calls in member A = %d, want 0", got)
	}
}
