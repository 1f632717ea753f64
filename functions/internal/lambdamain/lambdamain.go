// Package lambdamain is the shared start-up of every Rotary function: it reads
// the configuration from the environment (failing fast with a clear message),
// builds the logger, the AWS clients and the rotation engine, and hands the
// engine to the Lambda runtime. A function's main.go only says which rotators
// it carries.
//
// It must not hold rotation logic or read secret values.
package lambdamain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/logging"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/rotation"
)

// Register adds a function's rotators to reg, built with the dependencies
// start-up passes in (environment, RDS endpoint resolver, HTTP client,
// clock): a rotators.Builder. A function's main.go names only the rotator
// packages it carries, so its binary links no other driver.
type Register = rotators.Builder

// Wiring puts a target API built from the function's AWS clients into the
// rotators' dependencies (elasticachex.Wire sets Deps.ElastiCache, rdsx.Wire
// sets Deps.Endpoints for a database strategy that reads a master secret,
// which RDS may manage, without a host): a function passes the ones its
// rotators need to Run, and links no other.
type Wiring func(*awsx.Clients, *rotators.Deps)

// EnvMetricsNamespace names the CloudWatch namespace of the EMF metrics.
const EnvMetricsNamespace = "ROTARY_METRICS_NAMESPACE"

// Run builds the engine from the environment and starts the Lambda runtime.
// A configuration error is logged as one JSON line and the process exits with
// status 1, so the Lambda init phase fails visibly instead of every rotation.
func Run(register Register, wirings ...Wiring) {
	logger := logging.New()
	engine, err := Build(context.Background(), os.Getenv, logger, register, wirings...)
	if err != nil {
		logger.Error("rotary: configuration error", slog.String("error", err.Error()))
		os.Exit(1)
	}
	// Start-up garbage (the SDK's configuration and endpoint rule sets,
	// package initialisation) would otherwise stay on the heap until the
	// first rotation's garbage collection, which then runs on top of it:
	// collecting it now, and handing its pages back, keeps the peak RSS of
	// the warm container lower (test/bench: central 26 -> 24 MiB,
	// mysql-single 19 -> 17 MiB) for about 1 ms of init. Functions that never
	// reach a collection in two rotations (generic) pay that first cycle's
	// metadata here instead: +0.3 MiB.
	debug.FreeOSMemory()
	lambda.Start(engine.Handle)
}

// Build reads the configuration through getenv and returns a ready engine,
// its rotators built with their dependencies (each of wirings adds a target
// API).
func Build(ctx context.Context, getenv func(string) string, logger *slog.Logger, register Register, wirings ...Wiring) (*rotation.Engine, error) {
	if err := checkFunction(getenv, builtFunction()); err != nil {
		return nil, err
	}
	cfg, err := awsx.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	reserve, err := rotation.CleanupReserveFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	base, err := awsx.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	clients := awsx.New(base, cfg)
	reg := &rotators.Registry{}
	d := rotators.Deps{Getenv: getenv, Now: time.Now}
	for _, w := range wirings {
		w(clients, &d)
	}
	if err := register(reg, d); err != nil {
		return nil, fmt.Errorf("rotators: %w", err)
	}
	return rotation.New(rotation.Config{
		Clients:   clientsFor(cfg, clients, ownClient(cfg, base)),
		Rotators:  reg,
		Logger:    logger,
		Metrics:   logging.NewLambdaMetrics(os.Stdout, getenv(EnvMetricsNamespace), getenv),
		Passwords: strings.ToLower(strings.TrimSpace(getenv(password.EnvSource))),

		CleanupReserve: reserve,
	})
}

// ownClient returns what builds the function's own Secrets Manager client, for
// the bare secret names account mode accepts: built on first use, since
// Secrets Manager itself always sends a full ARN. Central mode accepts no bare
// name and gets nil: nothing is built for it.
func ownClient(cfg awsx.Config, base aws.Config) func() *secretsmanager.Client {
	if cfg.Mode != awsx.ModeAccount {
		return nil
	}
	return sync.OnceValue(func() *secretsmanager.Client {
		return secretsmanager.NewFromConfig(base, func(o *secretsmanager.Options) {
			if cfg.SecretsManagerEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.SecretsManagerEndpoint)
			}
		})
	})
}

// clientsFor adapts awsx.Clients to the engine. Secrets Manager always sends a
// full ARN; a bare name (as moto and manual invocations send) is accepted in
// account mode only and uses the function's own client, which own builds.
func clientsFor(cfg awsx.Config, clients *awsx.Clients, own func() *secretsmanager.Client) rotation.Clients {
	return rotation.ClientsFunc(func(ctx context.Context, secretID, token string) (rotation.SecretsManagerAPI, error) {
		if _, err := awsx.ParseSecretARN(secretID); err != nil {
			if cfg.Mode == awsx.ModeAccount && own != nil && !strings.HasPrefix(secretID, "arn:") {
				return own(), nil
			}
			return nil, errors.Join(err, errors.New("central mode needs the secret's full ARN"))
		}
		return clients.SecretsManager(ctx, secretID, token)
	})
}
