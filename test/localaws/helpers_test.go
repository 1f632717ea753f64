package localaws_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rotary-secrets/rotary/test/localaws"
)

const region = "eu-west-1"

func smClient(s *localaws.Server, c localaws.Credentials) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(s.AWSConfig(c, region))
}

func stsClient(s *localaws.Server, c localaws.Credentials) *sts.Client {
	return sts.NewFromConfig(s.AWSConfig(c, region))
}

// code returns the API error code of err, "" for nil.
func code(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "non-API error: " + err.Error()
}

// message returns the API error message of err.
func message(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}

// token returns a 32+ character ClientRequestToken made from a short tag.
func token(tag string) string {
	return tag + strings.Repeat("0", 36-len(tag))
}

func mustCreate(t *testing.T, c *secretsmanager.Client, name, value string) *secretsmanager.CreateSecretOutput {
	t.Helper()
	out, err := c.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value), ClientRequestToken: aws.String(token("v1")),
	})
	if err != nil {
		t.Fatalf("CreateSecret(%s): %v", name, err)
	}
	return out
}

func stagesOf(t *testing.T, c *secretsmanager.Client, id string) map[string][]string {
	t.Helper()
	d, err := c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeSecret(%s): %v", id, err)
	}
	return d.VersionIdsToStages
}
