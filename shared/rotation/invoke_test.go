package rotation_test

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/rotary-secrets/rotary/shared/rotation"
)

// lambdaInvoke pushes raw JSON through aws-lambda-go's real decoder into the
// engine, as the Lambda runtime does.
func lambdaInvoke(e *rotation.Engine, payload string) ([]byte, error) {
	return lambda.NewHandler(e.Handle).Invoke(context.Background(), []byte(payload))
}
