package rotators_test

import (
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
)

func TestTagNamesSecret(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf"
	for _, c := range []struct {
		value string
		want  bool
	}{
		{arn, true},
		{"app/db", true},
		{"", false},
		{"app/db-AbCdEf", false},
		{"app", false},
		{"arn:aws:secretsmanager:us-east-1:444455556666:secret:app/db-AbCdEf", false},
	} {
		if got := rotators.TagNamesSecret(c.value, arn); got != c.want {
			t.Errorf("TagNamesSecret(%q) = %v, want %v", c.value, got, c.want)
		}
	}
	// A global identity (an IAM user) is given by the full ARN only: a name
	// would match the same-named secret of every region.
	for _, c := range []struct {
		value string
		want  bool
	}{
		{arn, true},
		{"app/db", false},
		{"", false},
		{"app/db-AbCdEf", false},
		{"arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/db-AbCdEf", false},
		{"arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-ZzZzZz", false},
	} {
		if got := rotators.TagNamesSecretARN(c.value, arn); got != c.want {
			t.Errorf("TagNamesSecretARN(%q) = %v, want %v", c.value, got, c.want)
		}
	}
	if rotators.TagNamesSecret("", "not-an-arn") || rotators.TagNamesSecretARN("", "") {
		t.Error("an empty tag matched a malformed ARN")
	}
	if got := rotators.SecretName("arn:aws:secretsmanager:us-east-1:111122223333:secret:x"); got != "" {
		t.Errorf("SecretName of a suffix-less ARN = %q, want empty", got)
	}
}
