package awsx

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// invoked returns a context as the Lambda runtime builds it for one
// invocation of a function whose ARN is arn.
func invoked(ctx context.Context, arn string) context.Context {
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "req-1", InvokedFunctionArn: arn})
}

// TestHomeAccountFromInvokedFunctionARN: without ROTARY_HOME_ACCOUNT, the
// function's account comes from the invocation's function ARN (alias and
// version qualifiers included), so a cold start makes no STS call, in either
// mode. A secret in another account is still refused in account mode.
func TestHomeAccountFromInvokedFunctionARN(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		arn  string
	}{
		{name: "account mode", cfg: Config{Mode: ModeAccount}, arn: "arn:aws:lambda:eu-west-1:" + home + ":function:rotary-postgres-single"},
		{name: "account mode, alias", cfg: Config{Mode: ModeAccount}, arn: "arn:aws:lambda:eu-west-1:" + home + ":function:rotary:live"},
		{name: "account mode, other partition", cfg: Config{Mode: ModeAccount}, arn: "arn:aws-us-gov:lambda:us-gov-west-1:" + home + ":function:rotary"},
		{name: "central", cfg: Config{Mode: ModeCentral, AllowedAccounts: []string{member1}}, arn: "arn:aws:lambda:eu-west-1:" + home + ":function:rotary-central"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSTSFake(t, home, "")
			c := New(f.config(), tt.cfg)
			for range 3 {
				ctx := invoked(t.Context(), tt.arn)
				if _, err := c.SecretsManager(ctx, secretARN(home, "eu-west-1"), token); err != nil {
					t.Fatalf("SecretsManager: %v", err)
				}
				got, err := c.HomeAccount(ctx)
				if err != nil || got != home {
					t.Fatalf("HomeAccount = %q, %v; want %s", got, err, home)
				}
			}
			if tt.cfg.Mode == ModeAccount {
				_, err := c.SecretsManager(invoked(t.Context(), tt.arn), secretARN(outside, "eu-west-1"), token)
				var nae *AccountNotAllowedError
				if !errors.As(err, &nae) || nae.Home != home {
					t.Fatalf("secret in another account: error = %v, want *AccountNotAllowedError naming home %s", err, home)
				}
			}
			if got := f.total(); got != 0 {
				t.Errorf("STS calls = %d, want 0 (the account is in the invoked function's ARN)", got)
			}
		})
	}
}

// TestHomeAccountFallsBackToSTS: outside Lambda (no invocation context) or
// with a function ARN that names no account, the account comes from one
// GetCallerIdentity call, cached; ROTARY_HOME_ACCOUNT always wins.
func TestHomeAccountFallsBackToSTS(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		ctx        func(context.Context) context.Context
		wantLookup int
	}{
		{name: "no invocation context", ctx: func(ctx context.Context) context.Context { return ctx }, wantLookup: 1},
		{name: "malformed function ARN", ctx: func(ctx context.Context) context.Context {
			return invoked(ctx, "arn:aws:lambda:eu-west-1:12345:function:x")
		}, wantLookup: 1},
		{name: "not a function ARN", ctx: func(ctx context.Context) context.Context {
			return invoked(ctx, "arn:aws:sts::"+outside+":assumed-role/exec/fn")
		}, wantLookup: 1},
		{name: "env wins over the ARN", cfg: Config{HomeAccount: home}, ctx: func(ctx context.Context) context.Context {
			return invoked(ctx, "arn:aws:lambda:us-east-1:012345678912:function:test") // the RIE's fixed account
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSTSFake(t, home, "")
			c := New(f.config(), tt.cfg)
			for range 3 {
				got, err := c.HomeAccount(tt.ctx(t.Context()))
				if err != nil || got != home {
					t.Fatalf("HomeAccount = %q, %v; want %s", got, err, home)
				}
			}
			if got := f.count("GetCallerIdentity"); got != tt.wantLookup {
				t.Errorf("GetCallerIdentity calls = %d, want %d", got, tt.wantLookup)
			}
		})
	}
}
