package audit_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotary-secrets/rotary/shared/audit"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/test/localaws"
)

const (
	home       = localaws.DefaultAccount
	memberA    = "111111111111"
	memberB    = "222222222222"
	region     = "us-east-1"
	roleName   = "rotary-member"
	externalID = "audit-ext-id"
	orgID      = "o-abcdefghij"
	cmk        = "arn:aws:kms:us-east-1:111111111111:key/11111111-2222-3333-4444-555555555555"
)

// world is a localaws server with a central account and two member
// accounts whose role trusts it, plus administrator clients that plant
// secrets.
type world struct {
	t     *testing.T
	aws   *localaws.Server
	admin map[string]*secretsmanager.Client
	now   time.Time
}

func newWorld(t *testing.T, opts ...localaws.Options) *world {
	t.Helper()
	w := &world{t: t, aws: localaws.Start(t, opts...), admin: map[string]*secretsmanager.Client{}, now: time.Now()}
	w.admin[home] = secretsmanager.NewFromConfig(w.aws.AWSConfig(w.aws.DefaultCredentials(), region))
	for _, m := range []string{memberA, memberB} {
		w.admin[m] = secretsmanager.NewFromConfig(w.aws.AWSConfig(w.aws.AddAccount(m), region))
		w.aws.AddRole(localaws.Role{Account: m, Name: roleName, TrustedAccounts: []string{home}, ExternalID: externalID})
	}
	return w
}

// scanner audits home and the members (plus extra accounts) through awsx in
// central mode, as the function does.
func (w *world) scanner(cfg audit.Config, extra ...string) *audit.Scanner {
	base := w.aws.AWSConfig(w.aws.DefaultCredentials(), region)
	base.Retryer = audit.Retryer
	allowed := append([]string{memberA, memberB}, extra...)
	clients := awsx.New(base, awsx.Config{Mode: awsx.ModeCentral, RoleName: roleName, ExternalID: externalID,
		AllowedAccounts: allowed, HomeAccount: home, FunctionName: "rotary-audit"})
	return &audit.Scanner{
		Config:   cfg,
		Clients:  audit.AWSXClients{Clients: clients},
		Home:     home,
		Accounts: append([]string{home}, allowed...),
		Regions:  []string{region},
	}
}

// create makes a secret with a value and returns its ARN.
func (w *world) create(account, name string, tags map[string]string, kms string) string {
	w.t.Helper()
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(`{"engine":"generic","password":"do-not-read-me"}`)}
	if kms != "" {
		in.KmsKeyId = aws.String(kms)
	}
	for k, v := range tags {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := w.admin[account].CreateSecret(w.t.Context(), in)
	if err != nil {
		w.t.Fatalf("create %s in %s: %v", name, account, err)
	}
	return aws.ToString(out.ARN)
}

func (w *world) plant(account, id string, st localaws.SecretState) string {
	w.t.Helper()
	v, err := w.aws.SetSecretState(account, region, id, st)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

// fleetFn is the central function's ARN.
const fleetFn = "arn:aws:lambda:us-east-1:" + home + ":function:rotary-central"

// clean creates a secret that no check flags with testConfig: rotated a day
// ago by the fleet's function every 30 days, accessed today, a customer
// managed key, the required tag, a conforming name.
func (w *world) clean(account, name string) string {
	w.t.Helper()
	arn := w.create(account, name, map[string]string{"team": "payments"}, cmk)
	w.plant(account, arn, localaws.SecretState{
		Rotation:     &localaws.PlantedRotation{LambdaARN: fleetFn, Rules: localaws.RotationRules{AutomaticallyAfterDays: aws.Int64(30)}},
		LastRotated:  w.now.Add(-24 * time.Hour),
		NextRotation: w.now.Add(29 * 24 * time.Hour),
		LastAccessed: w.now,
	})
	return arn
}

// testConfig is the defaults plus the golden-path rules.
func testConfig() audit.Config {
	c, err := audit.ConfigFromEnv(func(k string) string {
		return map[string]string{audit.EnvRequiredTags: "team", audit.EnvNamePattern: `[a-z]+/[a-z0-9/-]+`}[k]
	}, orgID)
	if err != nil {
		panic(err)
	}
	return c
}

// byARN groups findings by secret ARN ("" for account findings).
func byARN(fs []audit.Finding) map[string][]audit.Finding {
	m := map[string][]audit.Finding{}
	for _, f := range fs {
		m[f.SecretARN] = append(m[f.SecretARN], f)
	}
	return m
}

func checksOf(fs []audit.Finding) []audit.Check {
	var out []audit.Check
	for _, f := range fs {
		out = append(out, f.Check)
	}
	slices.Sort(out)
	return out
}

// noValueRead fails the test when any value-reading call reached localaws.
func (w *world) noValueRead() {
	w.t.Helper()
	for _, op := range []string{"GetSecretValue", "BatchGetSecretValue", "PutSecretValue", "UpdateSecretVersionStage", "UpdateSecret"} {
		if n := w.aws.Calls(op, ""); n != 0 {
			w.t.Errorf("%d %s calls during the audit, want none", n, op)
		}
	}
}

// hookClients wraps Clients to run a hook after each ListSecrets page.
type hookClients struct {
	audit.Clients
	afterList func(account string)
}

func (h hookClients) Client(ctx context.Context, account, region string) (audit.SecretsManagerAPI, error) {
	c, err := h.Clients.Client(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return hookClient{c, func() { h.afterList(account) }}, nil
}

type hookClient struct {
	audit.SecretsManagerAPI
	after func()
}

func (h hookClient) ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	out, err := h.SecretsManagerAPI.ListSecrets(ctx, in, optFns...)
	if err == nil {
		h.after()
	}
	return out, err
}

var onceMu sync.Mutex

func once(done *bool, fn func()) {
	onceMu.Lock()
	defer onceMu.Unlock()
	if !*done {
		*done = true
		fn()
	}
}

func name(i int, s string) string { return fmt.Sprintf("app/%02d-%s", i, s) }
