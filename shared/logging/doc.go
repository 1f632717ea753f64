// Package logging sets up Rotary's structured logs and metrics for CloudWatch:
// slog on aws-lambda-go's lambdacontext handler (JSON in Lambda's log format,
// requestId from the invocation, level from AWS_LAMBDA_LOG_LEVEL), one line per
// step start and end, and CloudWatch embedded metric format (EMF) records.
//
// Redaction happens twice: credential types implement slog.LogValuer and omit
// their secrets, and the handler built here replaces attributes with secret
// names (password, apiKey, rotationToken, …) and any value registered for the
// invocation with WithSecrets (values of 4 bytes or more wherever they appear,
// shorter ones as whole tokens). EMF dimensions come only from closed sets
// (EngineLabel, AccountLabel, the four steps, the Outcome constants), and EMF
// lines carry a level and timestamp that Lambda's log-level filter keeps at
// the function's ApplicationLogLevel. This package must never log an event payload or
// a secret value, and must not call AWS.
package logging
