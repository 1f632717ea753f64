package rdsx_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/awsx/rdsx"
	"github.com/rotary-secrets/rotary/test/localaws"
)

const account = "111111111111"

var _ rotators.EndpointResolver = (*rdsx.Endpoints)(nil)

// TestRDSEndpointsNotManaged: a master secret without RDS's system tag is not
// resolved (one DescribeSecret, no RDS call).
func TestRDSEndpointsNotManaged(t *testing.T) {
	srv := localaws.Start(t)
	base := srv.AWSConfig(srv.AddAccount(account), "eu-west-1")
	out, err := secretsmanager.NewFromConfig(base).CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("app/db"), SecretString: aws.String(`{"engine":"postgres","username":"app","password":"initial-Value-1"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := awsx.ConfigFromEnv(func(k string) string { return map[string]string{awsx.EnvHomeAccount: account}[k] })
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetCalls()
	r := rdsx.NewEndpoints(awsx.New(base, cfg))
	_, _, err = r.ResolveEndpoint(t.Context(), aws.ToString(out.ARN), "token-1", "", "")
	if !errors.Is(err, rdsx.ErrNotRDSManaged) {
		t.Fatalf("ResolveEndpoint: %v, want ErrNotRDSManaged", err)
	}
	if n := srv.Calls("DescribeSecret", account); n != 1 {
		t.Errorf("%d DescribeSecret calls, want 1", n)
	}
}
