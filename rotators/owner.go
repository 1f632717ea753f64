package rotators

import "strings"

// TagSecret is the tag that gives a provider-side identity (an IAM user, an
// ElastiCache user, …) to one secret. A rotator that re-keys an identity
// through a cloud API checks it before it changes anything, so a secret
// naming another identity of its account (an administrator, say) cannot take
// that identity over. The tag is set by whoever administers the identity,
// never by Rotary. Which values it may hold depends on where the identity
// lives (TagNamesSecret, TagNamesSecretARN).
const TagSecret = "rotary:secret"

// TagNamesSecret is the rule for a regional identity (an ElastiCache user,
// which Rotary only looks up in the secret's own account and region): value,
// the TagSecret tag of the identity, names the secret secretARN when it equals
// the full ARN or the secret's name (the ARN's resource without Secrets
// Manager's 7-character random suffix). A secret name is unique within one
// account and region, and the identity lives in exactly that account and
// region, so there the name is as precise as the ARN. An empty value never
// matches.
func TagNamesSecret(value, secretARN string) bool {
	return tagNames(value, secretARN, true)
}

// TagNamesSecretARN is the rule for a global identity (an IAM user, one per
// account across every region): value names the secret secretARN only when
// it is the full ARN. A name would not do: secret names are unique only per
// region, so a name tag would give the user to the secret of that name in
// every region of the account, and a principal who may create such a secret
// elsewhere (and knows the user's access key IDs, which CloudTrail shows)
// could have the real secret's keys retired and a working key minted into
// theirs. An empty value never matches.
func TagNamesSecretARN(value, secretARN string) bool {
	return tagNames(value, secretARN, false)
}

// tagNames holds both rules: the full ARN always matches, the bare name only
// when byName (a regional identity).
func tagNames(value, secretARN string, byName bool) bool {
	if value == "" {
		return false
	}
	return value == secretARN || byName && value == SecretName(secretARN)
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
