package awsx

import (
	"errors"
	"fmt"
	"github.com/rotary-secrets/rotary/shared/ascii"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// ErrInvalidSecretARN reports a SecretId that is not the full ARN of a Secrets
// Manager secret. Secrets Manager always invokes rotation functions with the
// full ARN, so a name or a partial ARN means the event did not come from it.
var ErrInvalidSecretARN = errors.New("not a Secrets Manager secret ARN")

// Partitions are the AWS partitions a secret ARN may name. Anything else
// (including an empty partition) is refused, so no account or role ARN is
// ever derived from garbage.
var Partitions = []string{"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}

// KnownPartition reports whether p is one of Partitions (exact, lower case).
func KnownPartition(p string) bool {
	for _, k := range Partitions {
		if p == k {
			return true
		}
	}
	return false
}

// regionRE matches region names of every partition: us-east-1,
// us-gov-west-1, cn-north-1, eu-isoe-west-1, eusc-de-east-1.
var regionRE = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$`)

// validSecretName reports whether s is a secret's name as Secrets Manager
// allows it (ASCII letters, digits and /_+=.@!-, at most 512 characters) plus
// the 7-character suffix of its ARN: 1 to 519 of those characters. It is a
// loop, not a regular expression: a compiled {1,519} repetition held 440 KiB
// of heap and grew the start-up goroutine's stack by a megabyte, all of it
// in every function's peak RSS.
func validSecretName(s string) bool { return ascii.Chars(s, 1, 519, "/_+=.@!-") }

// SecretLocation is where a secret lives, taken from its ARN.
type SecretLocation struct {
	Partition string // one of Partitions
	Region    string // a well-formed region name
	Account   string // 12-digit account ID
}

// ParseSecretARN returns the partition, region and account of a secret ARN
// (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<suffix>).
// It is strict: the partition must be one of Partitions, the region
// well-formed, the account 12 digits and the name made of the characters
// Secrets Manager allows. Any other input, including a secret name, wraps
// ErrInvalidSecretARN.
func ParseSecretARN(secretARN string) (SecretLocation, error) {
	a, err := arn.Parse(secretARN)
	if err != nil {
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (Secrets Manager sends the full ARN; got a name or malformed ARN)", quoteShort(secretARN), ErrInvalidSecretARN)
	}
	switch {
	case !KnownPartition(a.Partition):
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (partition must be one of %s)", quoteShort(secretARN), ErrInvalidSecretARN, strings.Join(Partitions, ", "))
	case a.Service != "secretsmanager":
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (service is %s)", quoteShort(secretARN), ErrInvalidSecretARN, quoteShort(a.Service))
	case a.Region == "":
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (no region)", quoteShort(secretARN), ErrInvalidSecretARN)
	case !regionRE.MatchString(a.Region):
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (region is not a region name such as us-east-1)", quoteShort(secretARN), ErrInvalidSecretARN)
	case !validAccountID(a.AccountID):
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (account must be 12 digits)", quoteShort(secretARN), ErrInvalidSecretARN)
	case !strings.HasPrefix(a.Resource, "secret:") || !validSecretName(strings.TrimPrefix(a.Resource, "secret:")):
		return SecretLocation{}, fmt.Errorf("secret id %s: %w (resource must be secret:<name> with a name of ASCII letters, digits and /_+=.@!-)", quoteShort(secretARN), ErrInvalidSecretARN)
	}
	return SecretLocation{Partition: a.Partition, Region: a.Region, Account: a.AccountID}, nil
}

// RoleARN returns the ARN of the IAM role roleName in l's partition and
// account. It refuses a location that ParseSecretARN would not have returned
// and a role name that is not an IAM role name, so a role ARN is never built
// on garbage.
func (l SecretLocation) RoleARN(roleName string) (string, error) {
	switch {
	case !KnownPartition(l.Partition):
		return "", fmt.Errorf("derive member role ARN: unknown partition %s", quoteShort(l.Partition))
	case !validAccountID(l.Account):
		return "", fmt.Errorf("derive member role ARN: account %s is not 12 digits", quoteShort(l.Account))
	case !validRoleName(roleName):
		return "", fmt.Errorf("derive member role ARN: %s is not an IAM role name (1-64 of [A-Za-z0-9_+=,.@-])", quoteShort(roleName))
	}
	return "arn:" + l.Partition + ":iam::" + l.Account + ":role/" + roleName, nil
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

// ValidAccountID reports whether s is a 12-digit AWS account ID.
func ValidAccountID(s string) bool { return validAccountID(s) }

// quoteShort quotes an identifier for an error message, cut to a length that
// keeps a garbage input from flooding the log.
func quoteShort(s string) string {
	const max = 256
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
