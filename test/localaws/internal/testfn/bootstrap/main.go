// Command bootstrap is testfn as a Lambda binary for the Runtime Interface
// Emulator: Secrets Manager settings come from the standard AWS_* variables,
// and FAIL_STEP=<step> makes that step fail.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/test/localaws/internal/testfn"
)

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "bootstrap: load AWS config:", err)
		os.Exit(1)
	}
	client := secretsmanager.NewFromConfig(cfg)
	failStep := os.Getenv("FAIL_STEP")
	lambda.Start(invoker(testfn.Handler(testfn.Options{
		Client: func(context.Context, testfn.Event) (*secretsmanager.Client, error) { return client, nil },
		Hook: func(_ context.Context, ev testfn.Event) error {
			if ev.Step == failStep {
				return fmt.Errorf("%s failed on purpose (FAIL_STEP)", ev.Step)
			}
			return nil
		},
	})))
}

// invoker hands the raw event to the handler (lambda.Start treats a value with
// this Invoke method as a lambda.Handler instead of decoding JSON into []byte).
type invoker func(ctx context.Context, payload []byte) ([]byte, error)

// Invoke calls f.
func (f invoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) { return f(ctx, payload) }
