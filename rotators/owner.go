package rotators

import "strings"

// TagSecret is the tag that gives a provider-side identity (an IAM user, an
// ElastiCache user, …) to one secret: its value must be the secret's name or
// its full ARN. A rotator that re-keys an identity through a cloud API checks
// it before it changes anything, so a secret naming another identity of its
// account (an administrator, say) cannot take that identity over. The tag is
// set by whoever administers the identity, never by Rotary.
const TagSecret = "rotary:secret"

// TagNamesSecret reports whether value, the TagSecret tag of an identity,
// names the secret secretARN: it equals the full ARN or the secret's name
// (the ARN's resource without Secrets Manager's 7-character random suffix).
// Secret names are unique within an account and the identity lives in the
// secret's own account, so the name is as precise as the ARN there. An empty
// value never matches.
func TagNamesSecret(value, secretARN string) bool {
	if value == "" {
		return false
	}
	return value == secretARN || value == SecretName(secretARN)
}

// SecretName returns the name part of a secret ARN
// (arn:…:secret:<name>-<6 characters>), "" when it has none.
func SecretName(arn string) string {
	i := strings.Index(arn, ":secret:")
	if i < 0 {
		return ""
	}
	res := arn[i+len(":secret:"):]
	if len(res) < 8 || res[len(res)-7] != '-' {
		return ""
	}
	return res[:len(res)-7]
}
