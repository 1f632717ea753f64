package rdsx

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestOneRDSClientPerAccount: resolving a member's RDS-managed master many
// times builds one RDS client and assumes the member role once; the session
// is named after the function and the rotation's ClientRequestToken, as the
// engine's own Secrets Manager sessions are.
func TestOneRDSClientPerAccount(t *testing.T) {
	const central, member, region, fn = "111111111111", "222222222222", "eu-west-1", "rotary-central"
	srv := localaws.Start(t)
	creds := srv.AddAccount(central)
	memberCreds := srv.AddAccount(member)
	srv.AddRole(localaws.Role{Account: member, Name: awsx.DefaultRoleName, TrustedAccounts: []string{central}})
	db := srv.AddDBInstance(localaws.DBInstance{Account: member, Region: region, Identifier: "orders-db", Engine: "postgres", Address: "orders-db.example", Port: 5432})
	out, err := secretsmanager.NewFromConfig(srv.AWSConfig(memberCreds, region)).CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("rds-db-master"), SecretString: aws.String(`{"username":"postgres","password":"initial-Value-1"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	master := aws.ToString(out.ARN)
	if err := srv.PlantSystemTag(master, TagRDSPrimaryInstance, db); err != nil {
		t.Fatal(err)
	}
	r := NewEndpoints(awsx.New(srv.AWSConfig(creds, region), awsx.Config{Mode: awsx.ModeCentral, AllowedAccounts: []string{member}, HomeAccount: central, FunctionName: fn}))
	srv.ResetCalls()
	srv.ResetRequestLog()
	for range 5 {
		host, port, err := r.ResolveEndpoint(t.Context(), master, "token-1", "", "")
		if err != nil || host != "orders-db.example" || port != 5432 {
			t.Fatalf("ResolveEndpoint = %q, %d, %v", host, port, err)
		}
	}
	if got := r.cache.Builds(); got != 1 {
		t.Errorf("RDS clients built = %d, want 1", got)
	}
	if got := srv.Calls("AssumeRole", ""); got != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", got)
	}
	var seen int
	for _, req := range srv.RequestLog() {
		if req.RoleARN == "" {
			continue
		}
		seen++
		if want := awsx.SessionName(fn, "token-1"); req.Session != want {
			t.Errorf("%s by session %q, want %q", req.Action, req.Session, want)
		}
	}
	if seen == 0 {
		t.Error("no request of the member role was logged")
	}
}
