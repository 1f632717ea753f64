package awsx

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// ErrInvalidSecretARN reports a SecretId that is not the full ARN of a Secrets
// Manager secret. Secrets Manager always invokes rotation functions with the
// full ARN, so a name or a partial ARN means the event did not come from it.
var ErrInvalidSecretARN = errors.New("not a Secrets Manager secret ARN")

// SecretLocation is where a secret lives, taken from its ARN.
type SecretLocation struct {
	Partition string // aws, aws-cn, aws-us-gov, …
	Region    string
	Account   string // 12-digit account ID
}

// ParseSecretARN returns the partition, region and account of a secret ARN
// (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<suffix>).
// Any other input, including a secret name, wraps ErrInvalidSecretARN.
func ParseSecretARN(secretARN string) (SecretLocation, error) {
	a, err := arn.Parse(secretARN)
	if err != nil {
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (Secrets Manager sends the full ARN; got a name or malformed ARN)", quoteShort(secretARN), ErrInvalidSecretARN)
	}
	switch {
	case a.Service != "secretsmanager":
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (service is %q)", quoteShort(secretARN), ErrInvalidSecretARN, a.Service)
	case !strings.HasPrefix(a.Resource, "secret:") || len(a.Resource) == len("secret:"):
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (resource must be secret:<name>)", quoteShort(secretARN), ErrInvalidSecretARN)
	case a.Region == "":
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (no region)", quoteShort(secretARN), ErrInvalidSecretARN)
	case !validAccountID(a.AccountID):
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (account must be 12 digits)", quoteShort(secretARN), ErrInvalidSecretARN)
	}
	return SecretLocation{Partition: a.Partition, Region: a.Region, Account: a.AccountID}, nil
}

// validAccountID reports whether s is a 12-digit AWS account ID.
func validAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// quoteShort quotes an identifier for an error message, cut to a length that
// keeps a garbage input from flooding the log.
func quoteShort(s string) string {
	const max = 256
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
