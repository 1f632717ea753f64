package localaws_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/localaws/internal/testfn"
)

const fnARN = "arn:aws:lambda:eu-west-1:123456789012:function:rotator"

// recorder keeps the events a function received.
type recorder struct {
	mu     sync.Mutex
	events []testfn.Event
}

func (r *recorder) add(ev testfn.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) all() []testfn.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// inProcess registers testfn as fnARN, using c for every call; hook (may be
// nil) runs at the start of each step.
func inProcess(s *localaws.Server, c *secretsmanager.Client, rec *recorder, hook func(context.Context, testfn.Event) error) {
	s.RegisterFunction(fnARN, localaws.HandlerFunction(testfn.Handler(testfn.Options{
		Client: func(context.Context, testfn.Event) (*secretsmanager.Client, error) { return c, nil },
		Hook: func(ctx context.Context, ev testfn.Event) error {
			if rec != nil {
				rec.add(ev)
			}
			if hook != nil {
				return hook(ctx, ev)
			}
			return nil
		},
	})))
}

func rotate(t *testing.T, c *secretsmanager.Client, id, tok string) (*secretsmanager.RotateSecretOutput, error) {
	t.Helper()
	return c.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{
		SecretId: aws.String(id), ClientRequestToken: aws.String(tok), RotationLambdaARN: aws.String(fnARN),
		RotationRules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)},
	})
}

func stepsOf(run localaws.RotationRun) []string {
	var out []string
	for _, st := range run.Steps {
		s := fmt.Sprintf("%d:%s", st.Attempt, st.Step)
		if st.Error != "" {
			s += " failed"
		}
		out = append(out, s)
	}
	return out
}

func TestRotateSecretInProcess(t *testing.T) {
	s := localaws.Start(t, localaws.Options{VerifySignatures: true})
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	created := mustCreate(t, c, "rot/db", `{"username":"app","password":"old"}`)
	arn := aws.ToString(created.ARN)
	rec := &recorder{}
	// During createSecret, check what the service shows the function.
	var during []string
	inProcess(s, c, rec, func(ctx context.Context, ev testfn.Event) error {
		if ev.Step != localaws.StepCreate {
			return nil
		}
		_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &ev.SecretID, VersionStage: aws.String("AWSPENDING")})
		var nf *types.ResourceNotFoundException
		during = append(during, fmt.Sprintf("pending value not found: %v", errors.As(err, &nf)))
		l, err := c.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: &ev.SecretID})
		if err != nil {
			return err
		}
		during = append(during, fmt.Sprintf("listed versions: %d", len(l.Versions)))
		st := stagesOf(t, c, ev.SecretID)
		during = append(during, fmt.Sprintf("placeholder stages: %v", st[ev.ClientRequestToken]))
		return nil
	})

	out, err := rotate(t, c, "rot/db", token("r1"))
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	if aws.ToString(out.VersionId) != token("r1") {
		t.Errorf("VersionId = %s, want the token", aws.ToString(out.VersionId))
	}
	runs := s.Rotations(arn)
	if len(runs) != 1 || runs[0].Outcome != localaws.Succeeded {
		t.Fatalf("runs = %+v, want one success", runs)
	}
	if diff := cmp.Diff([]string{"1:createSecret", "1:setSecret", "1:testSecret", "1:finishSecret"}, stepsOf(runs[0])); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"pending value not found: true", "listed versions: 1", "placeholder stages: [AWSPENDING]"}, during); diff != "" {
		t.Errorf("what createSecret saw (-want +got):\n%s", diff)
	}
	for _, ev := range rec.all() {
		if ev.SecretID != arn || ev.ClientRequestToken != token("r1") || ev.RotationToken == "" {
			t.Errorf("event %s: SecretId %s token %s RotationToken set %v; want full ARN, the token, a RotationToken", ev.Step, ev.SecretID, ev.ClientRequestToken, ev.RotationToken != "")
		}
	}
	if diff := cmp.Diff(map[string][]string{token("v1"): {"AWSPREVIOUS"}, token("r1"): {"AWSCURRENT"}}, stagesOf(t, c, arn)); diff != "" {
		t.Errorf("stages after rotation (-want +got):\n%s", diff)
	}
	d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &arn})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(d.RotationEnabled) || d.LastRotatedDate == nil || d.NextRotationDate == nil || aws.ToString(d.RotationLambdaARN) != fnARN {
		t.Errorf("describe after rotation: enabled %v last %v next %v lambda %s", aws.ToBool(d.RotationEnabled), d.LastRotatedDate, d.NextRotationDate, aws.ToString(d.RotationLambdaARN))
	}
	t.Run("a second rotation starts from the new value", func(t *testing.T) {
		if _, err := rotate(t, c, arn, token("r2")); err != nil {
			t.Fatalf("RotateSecret: %v", err)
		}
		if got := s.Rotations(arn); len(got) != 2 || got[1].Outcome != localaws.Succeeded {
			t.Fatalf("runs = %+v", got)
		}
		if diff := cmp.Diff(map[string][]string{token("r1"): {"AWSPREVIOUS"}, token("r2"): {"AWSCURRENT"}}, stagesOf(t, c, arn)); diff != "" {
			t.Errorf("stages (-want +got):\n%s", diff)
		}
	})
}

func TestRotateSecretFailures(t *testing.T) {
	failSet := func(_ context.Context, ev testfn.Event) error {
		if ev.Step == localaws.StepSet {
			return errors.New("setSecret: target refused the change")
		}
		return nil
	}
	tests := []struct {
		name       string
		retries    int
		hook       func() func(context.Context, testfn.Event) error
		wantSteps  []string
		wantResult localaws.Outcome
		wantStages map[string][]string
	}{
		{
			name:       "a failed step leaves AWSPENDING and AWSCURRENT in place",
			hook:       func() func(context.Context, testfn.Event) error { return failSet },
			wantSteps:  []string{"1:createSecret", "1:setSecret failed"},
			wantResult: localaws.Failed,
			wantStages: map[string][]string{token("v1"): {"AWSCURRENT"}, token("r1"): {"AWSPENDING"}},
		},
		{
			name:       "retries exhausted",
			retries:    2,
			hook:       func() func(context.Context, testfn.Event) error { return failSet },
			wantSteps:  []string{"1:createSecret", "1:setSecret failed", "2:createSecret", "2:setSecret failed", "3:createSecret", "3:setSecret failed"},
			wantResult: localaws.Failed,
			wantStages: map[string][]string{token("v1"): {"AWSCURRENT"}, token("r1"): {"AWSPENDING"}},
		},
		{
			name:    "a retry with the same token recovers",
			retries: 2,
			hook: func() func(context.Context, testfn.Event) error {
				var once sync.Once
				return func(ctx context.Context, ev testfn.Event) error {
					var err error
					if ev.Step == localaws.StepSet {
						once.Do(func() { err = errors.New("transient") })
					}
					return err
				}
			},
			wantSteps:  []string{"1:createSecret", "1:setSecret failed", "2:createSecret", "2:setSecret", "2:testSecret", "2:finishSecret"},
			wantResult: localaws.Succeeded,
			wantStages: map[string][]string{token("v1"): {"AWSPREVIOUS"}, token("r1"): {"AWSCURRENT"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := localaws.Start(t, localaws.Options{RotationRetries: tt.retries})
			c := smClient(s, s.DefaultCredentials())
			arn := aws.ToString(mustCreate(t, c, "rot/fail", `{"password":"old"}`).ARN)
			rec := &recorder{}
			inProcess(s, c, rec, tt.hook())
			if _, err := rotate(t, c, arn, token("r1")); err != nil {
				t.Fatalf("RotateSecret answered %v; the service answers 200 even when a step fails", err)
			}
			runs := s.Rotations(arn)
			if len(runs) != 1 || runs[0].Outcome != tt.wantResult {
				t.Fatalf("runs = %+v, want one %s", runs, tt.wantResult)
			}
			if diff := cmp.Diff(tt.wantSteps, stepsOf(runs[0])); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStages, stagesOf(t, c, arn)); diff != "" {
				t.Errorf("stages (-want +got):\n%s", diff)
			}
			for _, ev := range rec.all() {
				if ev.ClientRequestToken != token("r1") {
					t.Errorf("event with token %s, want every attempt to reuse %s", ev.ClientRequestToken, token("r1"))
				}
			}
			if tt.wantResult == localaws.Failed {
				_, err := rotate(t, c, arn, token("r2"))
				if code(err) != "InvalidRequestException" || !strings.Contains(message(err), "A previous rotation isn't complete") {
					t.Errorf("RotateSecret during an incomplete rotation: %v, want the in-progress error", err)
				}
			}
		})
	}
}

func TestRotateSecretRequests(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	arn := aws.ToString(mustCreate(t, c, "rot/req", `{"password":"old"}`).ARN)
	inProcess(s, c, nil, nil)
	tests := []struct {
		name string
		in   secretsmanager.RotateSecretInput
		code string
	}{
		{"no function configured", secretsmanager.RotateSecretInput{SecretId: &arn}, "InvalidRequestException"},
		{"function that cannot be invoked", secretsmanager.RotateSecretInput{SecretId: &arn, RotationLambdaARN: aws.String(fnARN + "-missing")}, "AccessDeniedException"},
		{"days out of range", secretsmanager.RotateSecretInput{SecretId: &arn, RotationLambdaARN: aws.String(fnARN), RotationRules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(0)}}, "InvalidParameterException"},
		{"schedule too frequent", secretsmanager.RotateSecretInput{SecretId: &arn, RotationLambdaARN: aws.String(fnARN), RotationRules: &types.RotationRulesType{ScheduleExpression: aws.String("rate(1 hours)")}}, "InvalidParameterException"},
		{"unknown secret", secretsmanager.RotateSecretInput{SecretId: aws.String("nope"), RotationLambdaARN: aws.String(fnARN)}, "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.RotateSecret(ctx, &tt.in)
			if got := code(err); got != tt.code {
				t.Fatalf("RotateSecret error = %q (%v), want %q", got, err, tt.code)
			}
		})
	}
	t.Run("RotateImmediately=false runs only testSecret on a temporary version", func(t *testing.T) {
		rec := &recorder{}
		var pendingValue string
		inProcess(s, c, rec, func(ctx context.Context, ev testfn.Event) error {
			v, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &ev.SecretID, VersionStage: aws.String("AWSPENDING")})
			if err != nil {
				return err
			}
			pendingValue = aws.ToString(v.SecretString)
			return nil
		})
		_, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: &arn, RotationLambdaARN: aws.String(fnARN), RotateImmediately: aws.Bool(false), ClientRequestToken: aws.String(token("t1"))})
		if err != nil {
			t.Fatalf("RotateSecret: %v", err)
		}
		runs := s.Rotations(arn)
		if len(runs) != 1 || runs[0].Outcome != localaws.Succeeded || runs[0].Immediately {
			t.Fatalf("runs = %+v", runs)
		}
		if diff := cmp.Diff([]string{"1:testSecret"}, stepsOf(runs[0])); diff != "" {
			t.Errorf("steps (-want +got):\n%s", diff)
		}
		if pendingValue != `{"password":"old"}` {
			t.Errorf("the temporary AWSPENDING version does not hold the current value")
		}
		if diff := cmp.Diff(map[string][]string{token("v1"): {"AWSCURRENT"}}, stagesOf(t, c, arn)); diff != "" {
			t.Errorf("stages after the test-only rotation (-want +got):\n%s", diff)
		}
		d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &arn})
		if err != nil || !aws.ToBool(d.RotationEnabled) {
			t.Errorf("rotation not enabled after RotateSecret: %v", err)
		}
	})
	t.Run("CancelRotateSecret disables rotation and names the pending version", func(t *testing.T) {
		inProcess(s, c, nil, func(_ context.Context, ev testfn.Event) error {
			if ev.Step == localaws.StepTest {
				return errors.New("test failed")
			}
			return nil
		})
		if _, err := rotate(t, c, arn, token("r9")); err != nil {
			t.Fatalf("RotateSecret: %v", err)
		}
		out, err := c.CancelRotateSecret(ctx, &secretsmanager.CancelRotateSecretInput{SecretId: &arn})
		if err != nil || aws.ToString(out.VersionId) != token("r9") {
			t.Fatalf("CancelRotateSecret = %v, %v; want VersionId %s", out, err, token("r9"))
		}
		d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &arn})
		if err != nil || aws.ToBool(d.RotationEnabled) || !slices.Contains(d.VersionIdsToStages[token("r9")], "AWSPENDING") {
			t.Errorf("after cancel: enabled %v stages %v (labels stay as they were)", aws.ToBool(d.RotationEnabled), d.VersionIdsToStages)
		}
	})
}

// TestRotationToken runs the rotation the way the central function does:
// with credentials of a role assumed in the secret's account.
func TestRotationToken(t *testing.T) {
	tests := []struct {
		name  string
		drop  bool
		wrong string // a RotationToken to send instead of the event's
		want  localaws.Outcome
	}{
		{"token passed", false, "", localaws.Succeeded},
		{"token dropped", true, "", localaws.Failed},
		{"wrong token", false, "00000000-0000-4000-8000-000000000000-forged", localaws.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := localaws.Start(t, localaws.Options{VerifySignatures: true})
			central := s.DefaultCredentials()
			member := s.AddAccount(accountB)
			roleARN := s.AddRole(localaws.Role{Account: accountB, Name: "RotaryMember", TrustedAccounts: []string{localaws.DefaultAccount}, ExternalID: "ext-42"})
			owner := smClient(s, member)
			arn := aws.ToString(mustCreate(t, owner, "member/db", `{"password":"old"}`).ARN)
			cfg := s.AWSConfig(central, region)
			cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient(s, central), roleARN, func(o *stscreds.AssumeRoleOptions) {
				o.ExternalID = aws.String("ext-42")
			}))
			assumed := secretsmanager.NewFromConfig(cfg)
			s.RegisterFunction(fnARN, localaws.HandlerFunction(testfn.Handler(testfn.Options{
				Client:            func(context.Context, testfn.Event) (*secretsmanager.Client, error) { return assumed, nil },
				DropRotationToken: tt.drop,
				RotationToken:     tt.wrong,
			})))
			if _, err := rotate(t, owner, arn, token("r1")); err != nil {
				t.Fatalf("RotateSecret: %v", err)
			}
			runs := s.Rotations(arn)
			if len(runs) != 1 || runs[0].Outcome != tt.want {
				t.Fatalf("runs = %+v, want %s", runs, tt.want)
			}
			if tt.wrong != "" && strings.Contains(runs[0].Error, tt.wrong) {
				t.Errorf("the error echoes the RotationToken: %q", runs[0].Error)
			}
			if tt.want == localaws.Failed && !strings.Contains(runs[0].Error, "AccessDeniedException") {
				t.Errorf("failure %q, want the AccessDeniedException from PutSecretValue", runs[0].Error)
			}
			if got := s.Calls("AssumeRole", localaws.DefaultAccount); got != 1 {
				t.Errorf("AssumeRole calls = %d, want 1 (credentials cached)", got)
			}
			t.Run("outside a rotation the token is not required", func(t *testing.T) {
				_, err := assumed.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: &arn, SecretString: aws.String(`{"password":"manual"}`), VersionStages: []string{"MANUAL"}})
				if err != nil {
					t.Fatalf("PutSecretValue without a rotation running: %v", err)
				}
			})
		})
	}
}

func TestAsyncRotation(t *testing.T) {
	s := localaws.Start(t, localaws.Options{AsyncRotation: true})
	c := smClient(s, s.DefaultCredentials())
	arn := aws.ToString(mustCreate(t, c, "rot/async", `{"password":"old"}`).ARN)
	release := make(chan struct{})
	inProcess(s, c, nil, func(ctx context.Context, ev testfn.Event) error {
		if ev.Step == localaws.StepCreate {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	if _, err := rotate(t, c, arn, token("r1")); err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	// The function is still blocked in createSecret: RotateSecret answered first.
	if runs := s.Rotations(arn); len(runs) != 1 || runs[0].Outcome != localaws.InProgress {
		t.Fatalf("runs right after RotateSecret = %+v, want one in progress", runs)
	}
	close(release)
	s.WaitRotations()
	if runs := s.Rotations(arn); runs[0].Outcome != localaws.Succeeded {
		t.Fatalf("run after WaitRotations = %+v", runs[0])
	}
}

// TestConcurrentRotations rotates many secrets in several accounts at once
// (run with -race).
func TestConcurrentRotations(t *testing.T) {
	s := localaws.Start(t)
	const accounts, perAccount = 4, 5
	var wg sync.WaitGroup
	clients := map[string]*secretsmanager.Client{}
	for i := range accounts {
		acct := fmt.Sprintf("3000000000%02d", i)
		clients[acct] = smClient(s, s.AddAccount(acct))
	}
	// One function serves every account: pick the client by the ARN's account.
	s.RegisterFunction(fnARN, localaws.HandlerFunction(testfn.Handler(testfn.Options{
		Client: func(_ context.Context, ev testfn.Event) (*secretsmanager.Client, error) {
			return clients[strings.Split(ev.SecretID, ":")[4]], nil
		},
	})))
	var arns []string
	for _, c := range clients {
		for j := range perAccount {
			arns = append(arns, aws.ToString(mustCreate(t, c, fmt.Sprintf("fleet/%d", j), `{"password":"old"}`).ARN))
		}
	}
	errs := make(chan error, len(arns))
	for _, arn := range arns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[strings.Split(arn, ":")[4]]
			_, err := c.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(fnARN)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("RotateSecret: %v", err)
		}
	}
	for _, arn := range arns {
		if runs := s.Rotations(arn); len(runs) != 1 || runs[0].Outcome != localaws.Succeeded {
			t.Errorf("%s: runs %+v", arn, runs)
		}
	}
	if got := s.Calls("RotateSecret", ""); got != len(arns) {
		t.Errorf("RotateSecret calls = %d, want %d", got, len(arns))
	}
}
