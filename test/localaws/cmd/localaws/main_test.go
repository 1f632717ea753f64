package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.json")
	err := os.WriteFile(accounts, []byte(`{
  "accounts": [
    {"id": "111111111111", "accessKeyId": "AKIAFIXEDKEY00000001", "secretAccessKey": "fixed-secret"},
    {"id": "222222222222"}
  ],
  "roles": [{"account": "222222222222", "name": "RotaryMember", "trustedAccounts": ["111111111111"], "externalId": "ext-1"}]
}`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-accounts", accounts, "-region", "eu-central-1"}, pw)
		pw.Close()
	}()
	var out startup
	br := bufio.NewReader(pr)
	first, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read the startup line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, br) }() // drain the summary
	if err := json.Unmarshal([]byte(first), &out); err != nil {
		t.Fatalf("startup line %q: %v", first, err)
	}
	if len(out.Accounts) != 3 || out.Accounts[1].AccessKeyID != "AKIAFIXEDKEY00000001" || len(out.Roles) != 1 {
		t.Fatalf("startup line = %+v", out)
	}
	cfg := aws.Config{
		Region:       "eu-central-1",
		BaseEndpoint: aws.String(out.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAFIXEDKEY00000001", "fixed-secret", ""),
	}
	// Assume the member role from the fixed-key account and write there.
	cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), out.Roles[0], func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = aws.String("ext-1")
	}))
	created, err := secretsmanager.NewFromConfig(cfg).CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("demo"), SecretString: aws.String("v")})
	if err != nil {
		t.Fatalf("CreateSecret through the standalone server: %v", err)
	}
	if want := "arn:aws:secretsmanager:eu-central-1:222222222222:secret:demo-"; aws.ToString(created.ARN)[:len(want)] != want {
		t.Errorf("ARN = %s, want it in the role's account", aws.ToString(created.ARN))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"accounts":[{"id":"12"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"bad function flag", []string{"-addr", "127.0.0.1:0", "-function", "nope"}},
		{"bad account ID", []string{"-addr", "127.0.0.1:0", "-accounts", bad}},
		{"missing accounts file", []string{"-addr", "127.0.0.1:0", "-accounts", filepath.Join(dir, "absent.json")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := run(t.Context(), tt.args, io.Discard); err == nil {
				t.Fatal("run accepted bad input")
			}
		})
	}
}
