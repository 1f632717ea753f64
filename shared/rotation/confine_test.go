package rotation_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/rotation"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// masterUser is a rotator that reads the master secret in every step, as the
// alternating-users and SaaS rotators do, and fails when it cannot.
type masterUser struct {
	rotators.Rotator
	mu      sync.Mutex
	masters []string // usernames of the masters it was given
}

func (m *masterUser) load(ctx context.Context, l rotators.Loader) error {
	v, ok, err := l(ctx)
	if err != nil {
		return fmt.Errorf("load master: %w", err)
	}
	if !ok {
		return errors.New("no master")
	}
	m.mu.Lock()
	m.masters = append(m.masters, v.Username)
	m.mu.Unlock()
	return nil
}

func (m *masterUser) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	if err := m.load(ctx, req.Master); err != nil {
		return rotators.CreateResponse{}, err
	}
	return m.Rotator.Create(ctx, req)
}

func (m *masterUser) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	if err := m.load(ctx, req.Master); err != nil {
		return rotators.SetResponse{}, err
	}
	return m.Rotator.Set(ctx, req)
}

func (m *masterUser) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	if err := m.load(ctx, req.Master); err != nil {
		return rotators.TestResponse{}, err
	}
	return m.Rotator.Test(ctx, req)
}

// accountClients is a client factory over localaws that gives each account's
// secrets that account's client and counts the requests per account, so a test
// can prove no client was ever made for a foreign secret.
type accountClients struct {
	clients map[string]*secretsmanager.Client
	mu      sync.Mutex
	asked   []string // every secret ID a client was asked for
}

func (c *accountClients) SecretsManager(_ context.Context, secretID, _ string) (rotation.SecretsManagerAPI, error) {
	c.mu.Lock()
	c.asked = append(c.asked, secretID)
	c.mu.Unlock()
	loc, err := awsx.ParseSecretARN(secretID)
	if err != nil {
		return nil, err
	}
	cl, ok := c.clients[loc.Account]
	if !ok {
		return nil, fmt.Errorf("no client for account %s", loc.Account)
	}
	return cl, nil
}

func (c *accountClients) askedFor(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, a := range c.asked {
		if a == id {
			n++
		}
	}
	return n
}

const foreignAccount = "222222222222"

// TestMasterConfinedToOwnAccount: a masterarn in another account, another
// partition, or not a valid secret ARN at all is refused by every step with a
// StepError wrapping ErrForeignSecret, before any client is made or any call
// is sent for it; the other account's secrets are never read. A master in
// the secret's own account still works.
func TestMasterConfinedToOwnAccount(t *testing.T) {
	rot := &masterUser{Rotator: generic.New(password.Default(""))}
	env := rotationtest.New(t, rot)
	credsB := env.AWS.AddAccount(foreignAccount)
	smB := secretsmanager.NewFromConfig(env.AWS.AWSConfig(credsB, ""))
	outB, err := smB.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: ptr("b/master"), SecretString: ptr(secret.Value{Username: "b_master", Password: "b-master-password-canary"}.StoredJSON()),
	})
	if err != nil {
		t.Fatal(err)
	}
	masterB := *outB.ARN
	ownMaster := env.CreateSecret(t, "a/master", secret.Value{Username: "a_master", Password: "a-master-password-0001"})
	sameAccountOtherPartition := strings.Replace(strings.Replace(ownMaster, "arn:aws:", "arn:aws-cn:", 1), ":us-east-1:", ":cn-north-1:", 1)

	factory := &accountClients{clients: map[string]*secretsmanager.Client{
		localaws.DefaultAccount: secretsmanager.NewFromConfig(env.AWS.AWSConfig(env.AWS.DefaultCredentials(), "")),
		foreignAccount:          smB,
	}}
	eng, err := rotation.New(rotation.Config{Clients: factory, Rotators: env.Registry})
	if err != nil {
		t.Fatal(err)
	}

	refused := map[string]string{
		"other account":                masterB,
		"other partition":              sameAccountOtherPartition,
		"fuzz finding":                 "arn::secretsmanager:0:000000000000:secret:0",
		"bare name":                    "b/master",
		"partial ARN":                  "arn:aws:secretsmanager:us-east-1:" + foreignAccount,
		"own account with bad region":  strings.Replace(ownMaster, ":us-east-1:", ":0:", 1),
		"other account behind padding": " " + masterB,
	}
	for name, masterARN := range refused {
		t.Run(name, func(t *testing.T) {
			arn := env.CreateSecret(t, "a/"+strings.ReplaceAll(name, " ", "-"), secret.Value{Engine: "generic", Username: "app", Password: "initial-password-0001", MasterARN: masterARN})
			token := env.Begin(t, arn)
			env.AWS.ResetCalls()
			check := func(step string, err error) {
				t.Helper()
				if !errors.Is(err, rotation.ErrForeignSecret) {
					t.Fatalf("%s: err = %v, want ErrForeignSecret", step, err)
				}
				var se *rotation.StepError
				if !errors.As(err, &se) || se.Step != step {
					t.Fatalf("%s: err = %#v, want *StepError", step, err)
				}
				if !strings.Contains(err.Error(), secret.KeyMasterARN) || !strings.Contains(err.Error(), "own account") {
					t.Fatalf("%s: error does not name masterarn and the rule: %v", step, err)
				}
			}
			check(rotation.StepCreate, eng.Handle(t.Context(), event(rotation.StepCreate, arn, token)))
			if got := env.AWS.Calls("PutSecretValue", ""); got != 0 {
				t.Fatalf("%d PutSecretValue calls after the refusal", got)
			}
			// The secret's owner can also write the pending version itself.
			_, err := env.SM.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{
				SecretId: ptr(arn), ClientRequestToken: ptr(token), VersionStages: []string{rotation.StagePending},
				SecretString: ptr(secret.Value{Engine: "generic", Username: "app", Password: "planted-password-0001", MasterARN: masterARN}.StoredJSON()),
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, step := range []string{rotation.StepSet, rotation.StepTest} {
				check(step, eng.Handle(t.Context(), event(step, arn, token)))
			}
			if got := factory.askedFor(masterARN); got != 0 {
				t.Fatalf("a client was requested %d times for the foreign master", got)
			}
			for _, op := range []string{"GetSecretValue", "DescribeSecret"} {
				if got := env.AWS.Calls(op, foreignAccount); got != 0 {
					t.Fatalf("%d %s calls in account %s", got, op, foreignAccount)
				}
			}
		})
	}
	t.Run("own account", func(t *testing.T) {
		rot.mu.Lock()
		rot.masters = nil
		rot.mu.Unlock()
		arn := env.CreateSecret(t, "a/own", secret.Value{Engine: "generic", Username: "app", Password: "initial-password-0001", MasterARN: ownMaster})
		token := env.Begin(t, arn)
		for _, step := range steps {
			if err := eng.Handle(t.Context(), event(step, arn, token)); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		rot.mu.Lock()
		defer rot.mu.Unlock()
		if len(rot.masters) != 3 || rot.masters[0] != "a_master" {
			t.Fatalf("masters used = %v, want a_master three times", rot.masters)
		}
	})
}

func ptr(s string) *string { return &s }
