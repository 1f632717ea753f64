// Command audit is Rotary's fleet audit. Under Lambda (AWS_LAMBDA_RUNTIME_API
// set) it runs on an EventBridge schedule: it audits the central account and
// every allowed member account, writes one JSON log line per finding and EMF
// metrics per account and check. Elsewhere it audits once and prints a
// report: a table, or with -json one JSON object per finding and a summary
// line; the exit status is 1 when a finding at or above -fail-on exists.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rotary-secrets/rotary/shared/logging"
)

func main() {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		logger := logging.New()
		h, err := newHandler(context.Background(), os.Getenv, logger, os.Stdout)
		if err != nil {
			logger.Error("rotary audit: configuration error", "error", err.Error())
			os.Exit(1)
		}
		lambda.Start(h.Handle)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
