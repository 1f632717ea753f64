// Command droptoken is a deliberately broken rotation function for the
// end-to-end tests: Rotary's real engine, configured like functions/central
// (cross-account clients from shared/awsx, the PostgreSQL and MySQL rotators),
// behind a handler that blanks the event's RotationToken before the engine
// sees it. The tests show that Secrets Manager (test/localaws) then refuses
// PutSecretValue from the member role's credentials, so the cross-account
// rotation fails and nothing is written: the e2e suite would catch a function
// that forgot to pass the token.
//
// It is test-only and must never be deployed. (It cannot reuse
// functions/internal/lambdamain, which is internal to functions/, so it
// repeats that package's few lines of wiring.)
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/mysql"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/logging"
	"github.com/rotary-secrets/rotary/shared/rotation"
)

func main() {
	logger := logging.New()
	engine, err := build(context.Background())
	if err != nil {
		logger.Error("droptoken: configuration error", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		ev.RotationToken = "" // the bug under test
		return engine.Handle(ctx, ev)
	})
}

func build(ctx context.Context) (*rotation.Engine, error) {
	reg := &rotators.Registry{}
	if err := postgres.RegisterFromEnv(reg, os.Getenv); err != nil {
		return nil, err
	}
	if err := mysql.RegisterFromEnv(reg, os.Getenv); err != nil {
		return nil, err
	}
	cfg, err := awsx.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	base, err := awsx.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	clients := awsx.New(base, cfg)
	return rotation.New(rotation.Config{
		Clients: rotation.ClientsFunc(func(ctx context.Context, secretID, token string) (rotation.SecretsManagerAPI, error) {
			c, err := clients.SecretsManager(ctx, secretID, token)
			if err != nil {
				return nil, fmt.Errorf("droptoken: %w", err)
			}
			return c, nil
		}),
		Rotators: reg,
		Logger:   logging.New(),
	})
}
