// Command droptoken is a deliberately broken rotation function for the
// end-to-end tests: functions/central exactly (same start-up, every rotator),
// behind a handler that blanks the event's RotationToken before the engine
// sees it. The tests show that Secrets Manager (test/localaws) then refuses
// PutSecretValue from the member role's credentials, so the cross-account
// rotation fails and nothing is written: the e2e suite would catch a function
// that forgot to pass the token.
//
// It is test-only and must never be deployed; it lives under
// functions/internal so it can share the real start-up code, and the Makefile
// does not build it.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/functions/internal/registry"
	"github.com/rotary-secrets/rotary/shared/awsx/elasticachex"
	"github.com/rotary-secrets/rotary/shared/awsx/iamx"
	"github.com/rotary-secrets/rotary/shared/awsx/rdsx"
	"github.com/rotary-secrets/rotary/shared/logging"
)

func main() {
	logger := logging.New()
	engine, err := lambdamain.Build(context.Background(), os.Getenv, logger, registry.All, rdsx.Wire, elasticachex.Wire, iamx.Wire)
	if err != nil {
		logger.Error("droptoken: configuration error", slog.String("error", err.Error()))
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, ev events.SecretsManagerSecretRotationEvent) error {
		ev.RotationToken = "" // the bug under test
		return engine.Handle(ctx, ev)
	})
}
