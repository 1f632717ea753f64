package localaws_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rotary-secrets/rotary/test/localaws"
)

func TestCreateSecret(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	first := mustCreate(t, c, "app/db", `{"password":"p1"}`)
	if re := regexp.MustCompile(`^arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-[A-Za-z0-9]{6}$`); !re.MatchString(aws.ToString(first.ARN)) {
		t.Fatalf("ARN = %q, want %v", aws.ToString(first.ARN), re)
	}
	tests := []struct {
		name  string
		in    secretsmanager.CreateSecretInput
		code  string
		sameA bool // the answer repeats the first create's
	}{
		{"same token and value is a no-op", secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String(`{"password":"p1"}`), ClientRequestToken: aws.String(token("v1"))}, "", true},
		{"same token other value", secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("other"), ClientRequestToken: aws.String(token("v1"))}, "ResourceExistsException", false},
		{"name taken", secretsmanager.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String("x")}, "ResourceExistsException", false},
		{"invalid name", secretsmanager.CreateSecretInput{Name: aws.String("bad name!"), SecretString: aws.String("x")}, "ValidationException", false},
		{"name too long", secretsmanager.CreateSecretInput{Name: aws.String(strings.Repeat("n", 513)), SecretString: aws.String("x")}, "ValidationException", false},
		{"token too short", secretsmanager.CreateSecretInput{Name: aws.String("short-token"), SecretString: aws.String("x"), ClientRequestToken: aws.String("abc")}, "ValidationException", false},
		{"value at the limit", secretsmanager.CreateSecretInput{Name: aws.String("big"), SecretString: aws.String(strings.Repeat("x", 65536))}, "", false},
		{"value over the limit", secretsmanager.CreateSecretInput{Name: aws.String("too-big"), SecretString: aws.String(strings.Repeat("x", 65537))}, "ValidationException", false},
		{"binary over the limit", secretsmanager.CreateSecretInput{Name: aws.String("too-big-bin"), SecretBinary: make([]byte, 65537)}, "ValidationException", false},
		{"string and binary", secretsmanager.CreateSecretInput{Name: aws.String("both"), SecretString: aws.String("x"), SecretBinary: []byte("y")}, "InvalidParameterException", false},
		{"no value", secretsmanager.CreateSecretInput{Name: aws.String("empty")}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.CreateSecret(ctx, &tt.in)
			if got := code(err); got != tt.code {
				t.Fatalf("CreateSecret error = %q (%v), want %q", got, err, tt.code)
			}
			if err != nil {
				if strings.Contains(message(err), "other") || strings.Contains(message(err), "xxxx") {
					t.Errorf("error message echoes the secret value: %q", message(err))
				}
				return
			}
			if tt.sameA && (aws.ToString(out.ARN) != aws.ToString(first.ARN) || aws.ToString(out.VersionId) != aws.ToString(first.VersionId)) {
				t.Errorf("idempotent create answered %s/%s, want %s/%s", aws.ToString(out.ARN), aws.ToString(out.VersionId), aws.ToString(first.ARN), aws.ToString(first.VersionId))
			}
		})
	}
	t.Run("secret without value has no AWSCURRENT", func(t *testing.T) {
		_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("empty")})
		if code(err) != "ResourceNotFoundException" || !strings.Contains(message(err), "staging label: AWSCURRENT") {
			t.Fatalf("GetSecretValue(empty) = %v, want ResourceNotFoundException for AWSCURRENT", err)
		}
	})
}

func TestLookup(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	created := mustCreate(t, c, "team/api-key", "v")
	arn := aws.ToString(created.ARN)
	tests := []struct{ name, id, code string }{
		{"name", "team/api-key", ""},
		{"full ARN", arn, ""},
		{"partial ARN", arn[:len(arn)-7], ""},
		{"unknown name", "team/other", "ResourceNotFoundException"},
		{"ARN with a wrong suffix", arn[:len(arn)-6] + "zzzzzz", "ResourceNotFoundException"},
		{"other region's ARN", strings.Replace(arn, "eu-west-1", "us-east-1", 1), "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(tt.id)})
			if got := code(err); got != tt.code {
				t.Fatalf("GetSecretValue(%s) error = %q (%v), want %q", tt.id, got, err, tt.code)
			}
			if err == nil && aws.ToString(out.ARN) != arn {
				t.Errorf("ARN = %s, want %s", aws.ToString(out.ARN), arn)
			}
		})
	}
}

func TestPutSecretValueAndStages(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	mustCreate(t, c, "s", "one")
	put := func(tok, val string, stages ...string) (*secretsmanager.PutSecretValueOutput, error) {
		in := &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(token(tok)), SecretString: aws.String(val)}
		if len(stages) > 0 {
			in.VersionStages = stages
		}
		return c.PutSecretValue(ctx, in)
	}
	steps := []struct {
		name   string
		do     func() error
		code   string
		stages map[string][]string
	}{
		{"pending version", func() error { _, err := put("v2", "two", "AWSPENDING"); return err }, "",
			map[string][]string{token("v1"): {"AWSCURRENT"}, token("v2"): {"AWSPENDING"}}},
		{"same token same value is a no-op", func() error {
			out, err := put("v2", "two")
			if err == nil && !slices.Equal(out.VersionStages, []string{"AWSPENDING"}) {
				t.Errorf("no-op put returned stages %v, want the version's own [AWSPENDING]", out.VersionStages)
			}
			return err
		}, "", map[string][]string{token("v1"): {"AWSCURRENT"}, token("v2"): {"AWSPENDING"}}},
		{"same token other value", func() error { _, err := put("v2", "changed"); return err }, "ResourceExistsException", nil},
		{"move AWSCURRENT without RemoveFromVersionId", func() error {
			_, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(token("v2"))})
			if err != nil && !strings.Contains(message(err), "RemoveFromVersionId can't be empty") {
				t.Errorf("message = %q", message(err))
			}
			return err
		}, "InvalidParameterException", nil},
		{"move AWSCURRENT", func() error {
			_, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(token("v2")), RemoveFromVersionId: aws.String(token("v1"))})
			return err
		}, "", map[string][]string{token("v1"): {"AWSPREVIOUS"}, token("v2"): {"AWSPENDING", "AWSCURRENT"}}},
		{"move AWSCURRENT again: the old version no longer holds it", func() error {
			_, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(token("v2")), RemoveFromVersionId: aws.String(token("v1"))})
			return err
		}, "InvalidParameterException", map[string][]string{token("v1"): {"AWSPREVIOUS"}, token("v2"): {"AWSPENDING", "AWSCURRENT"}}},
		{"remove AWSPENDING", func() error {
			_, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(token("v2"))})
			return err
		}, "", map[string][]string{token("v1"): {"AWSPREVIOUS"}, token("v2"): {"AWSCURRENT"}}},
		{"put without stages becomes AWSCURRENT", func() error { _, err := put("v3", "three"); return err }, "",
			map[string][]string{token("v2"): {"AWSPREVIOUS"}, token("v3"): {"AWSCURRENT"}}},
		{"custom label moves", func() error {
			if _, err := put("v4", "four", "BLUE"); err != nil {
				return err
			}
			_, err := put("v5", "five", "BLUE")
			return err
		}, "", map[string][]string{token("v2"): {"AWSPREVIOUS"}, token("v3"): {"AWSCURRENT"}, token("v5"): {"BLUE"}}},
		{"no value", func() error {
			_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), ClientRequestToken: aws.String(token("v9"))})
			return err
		}, "InvalidRequestException", nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.do()
			if got := code(err); got != st.code {
				t.Fatalf("error = %q (%v), want %q", got, err, st.code)
			}
			if st.stages != nil {
				if diff := cmp.Diff(st.stages, stagesOf(t, c, "s")); diff != "" {
					t.Errorf("VersionIdsToStages (-want +got):\n%s", diff)
				}
			}
		})
	}
	t.Run("GetSecretValue follows the label", func(t *testing.T) {
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
		if err != nil || aws.ToString(out.SecretString) != "three" {
			t.Fatalf("GetSecretValue = %v, %v; want three", out, err)
		}
		prev, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s"), VersionStage: aws.String("AWSPREVIOUS")})
		if err != nil || aws.ToString(prev.SecretString) != "two" {
			t.Fatalf("GetSecretValue(AWSPREVIOUS) = %v, %v; want two", prev, err)
		}
		_, err = c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s"), VersionId: aws.String(token("v1")), VersionStage: aws.String("AWSCURRENT")})
		if code(err) != "InvalidRequestException" {
			t.Fatalf("mismatched VersionId/VersionStage error = %v, want InvalidRequestException", err)
		}
	})
	t.Run("ListSecretVersionIds hides deprecated versions", func(t *testing.T) {
		list := func(deprecated bool) []string {
			out, err := c.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s"), IncludeDeprecated: aws.Bool(deprecated)})
			if err != nil {
				t.Fatalf("ListSecretVersionIds: %v", err)
			}
			var ids []string
			for _, v := range out.Versions {
				ids = append(ids, aws.ToString(v.VersionId))
			}
			slices.Sort(ids)
			return ids
		}
		if diff := cmp.Diff([]string{token("v2"), token("v3"), token("v5")}, list(false)); diff != "" {
			t.Errorf("labelled versions (-want +got):\n%s", diff)
		}
		if got := len(list(true)); got != 5 {
			t.Errorf("with deprecated: %d versions, want 5", got)
		}
	})
}

// TestVersionCap: deprecated versions beyond 100 are removed oldest first;
// labelled versions stay.
func TestVersionCap(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	mustCreate(t, c, "many", "v0")
	for i := range 105 {
		if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("many"), SecretString: aws.String(fmt.Sprint("v", i+1))}); err != nil {
			t.Fatalf("put %d: %v", i+1, err)
		}
	}
	var n int
	p := secretsmanager.NewListSecretVersionIdsPaginator(c, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("many"), IncludeDeprecated: aws.Bool(true)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Versions)
	}
	if n != 100 {
		t.Errorf("%d versions kept, want 100", n)
	}
	for stage, want := range map[string]string{"AWSCURRENT": "v105", "AWSPREVIOUS": "v104"} {
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("many"), VersionStage: aws.String(stage)})
		if err != nil || aws.ToString(out.SecretString) != want {
			t.Errorf("%s = %v, want %s", stage, err, want)
		}
	}
}

func TestDeleteAndRestore(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	mustCreate(t, c, "d", "v")
	if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("d"), RecoveryWindowInDays: aws.Int64(7)}); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"get refused", func() error {
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("d")})
			return err
		}, "InvalidRequestException"},
		{"put refused", func() error {
			_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("d"), SecretString: aws.String("w")})
			return err
		}, "InvalidRequestException"},
		{"describe works", func() error {
			d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("d")})
			if err == nil && d.DeletedDate == nil {
				t.Error("DeletedDate not set")
			}
			return err
		}, ""},
		{"list hides it", func() error {
			out, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{})
			if err == nil && len(out.SecretList) != 0 {
				t.Errorf("ListSecrets shows %d secrets, want 0", len(out.SecretList))
			}
			return err
		}, ""},
		{"create with the name refused", func() error {
			_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("d"), SecretString: aws.String("v")})
			return err
		}, "InvalidRequestException"},
		{"delete again refused", func() error {
			_, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("d")})
			return err
		}, "InvalidRequestException"},
		{"both options refused", func() error {
			_, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("d"), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
			return err
		}, "InvalidParameterException"},
		{"restore", func() error {
			_, err := c.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String("d")})
			return err
		}, ""},
		{"get after restore", func() error {
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("d")})
			return err
		}, ""},
		{"force delete frees the name", func() error {
			if _, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("d"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
				return err
			}
			_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("d"), SecretString: aws.String("v")})
			return err
		}, ""},
		{"force delete of an unknown secret succeeds", func() error {
			_, err := c.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("nope"), ForceDeleteWithoutRecovery: aws.Bool(true)})
			return err
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := code(tt.call()); got != tt.code {
				t.Fatalf("error = %q, want %q", got, tt.code)
			}
		})
	}
}

func TestListTagsBatch(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	for _, n := range []string{"prod/a", "prod/b", "dev/a"} {
		mustCreate(t, c, n, "value-of-"+n)
	}
	if _, err := c.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String("prod/a"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("db")}}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := c.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: aws.String("prod/b"), Description: aws.String("Main billing ledger")}); err != nil {
		t.Fatalf("UpdateSecret: %v", err)
	}
	names := func(l []types.SecretListEntry) []string {
		var out []string
		for _, e := range l {
			out = append(out, aws.ToString(e.Name))
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name    string
		filters []types.Filter
		want    []string
	}{
		{"all", nil, []string{"dev/a", "prod/a", "prod/b"}},
		{"name prefix", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"prod/"}}}, []string{"prod/a", "prod/b"}},
		{"negated", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"!prod/"}}}, []string{"dev/a"}},
		{"invalid value", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"a&b"}}}, []string{"ValidationException"}},
		{"tag key", []types.Filter{{Key: types.FilterNameStringTypeTagKey, Values: []string{"team"}}}, []string{"prod/a"}},
		{"name is case-sensitive", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"PROD/"}}}, nil},
		{"description word, any case", []types.Filter{{Key: types.FilterNameStringTypeDescription, Values: []string{"BILLING"}}}, []string{"prod/b"}},
		{"all: words of the value", []types.Filter{{Key: types.FilterNameStringTypeAll, Values: []string{"Ledger DB"}}}, []string{"prod/a", "prod/b"}},
	}
	for _, tt := range tests {
		t.Run("ListSecrets "+tt.name, func(t *testing.T) {
			out, err := c.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: tt.filters})
			if len(tt.want) == 1 && strings.HasSuffix(tt.want[0], "Exception") {
				if code(err) != tt.want[0] {
					t.Fatalf("ListSecrets error = %v, want %s", err, tt.want[0])
				}
				return
			}
			if err != nil {
				t.Fatalf("ListSecrets: %v", err)
			}
			if diff := cmp.Diff(tt.want, names(out.SecretList)); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("ListSecrets pages", func(t *testing.T) {
		var all []types.SecretListEntry
		p := secretsmanager.NewListSecretsPaginator(c, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(2)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListSecrets page: %v", err)
			}
			all = append(all, out.SecretList...)
		}
		if diff := cmp.Diff([]string{"dev/a", "prod/a", "prod/b"}, names(all)); diff != "" {
			t.Errorf("paged names (-want +got):\n%s", diff)
		}
	})
	t.Run("untag", func(t *testing.T) {
		if _, err := c.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: aws.String("prod/a"), TagKeys: []string{"team"}}); err != nil {
			t.Fatalf("UntagResource: %v", err)
		}
		d, err := c.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String("prod/a")})
		if err != nil || len(d.Tags) != 0 {
			t.Fatalf("after untag: tags %v, err %v", d.Tags, err)
		}
	})
	t.Run("BatchGetSecretValue", func(t *testing.T) {
		out, err := c.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: []string{"prod/a", "missing", "dev/a"}})
		if err != nil {
			t.Fatalf("BatchGetSecretValue: %v", err)
		}
		var got []string
		for _, v := range out.SecretValues {
			got = append(got, aws.ToString(v.SecretString))
		}
		if diff := cmp.Diff([]string{"value-of-prod/a", "value-of-dev/a"}, got); diff != "" {
			t.Errorf("values (-want +got):\n%s", diff)
		}
		if len(out.Errors) != 1 || aws.ToString(out.Errors[0].ErrorCode) != "ResourceNotFoundException" {
			t.Errorf("errors = %+v, want one ResourceNotFoundException", out.Errors)
		}
		_, err = c.BatchGetSecretValue(ctx, &secretsmanager.BatchGetSecretValueInput{})
		if code(err) != "InvalidParameterException" {
			t.Errorf("neither list nor filters: %v, want InvalidParameterException", err)
		}
	})
}

// TestWireFormat checks the error wire format byte by byte: status, header,
// __type and Message.
func TestWireFormat(t *testing.T) {
	s := localaws.Start(t)
	signed := func(op, body string, akid string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL, bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Target", "secretsmanager."+op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/20260101/eu-west-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	akid := s.DefaultCredentials().AccessKeyID
	tests := []struct {
		name, op, body, akid string
		status               int
		errType              string
	}{
		{"not found", "GetSecretValue", `{"SecretId":"nope"}`, akid, 400, "ResourceNotFoundException"},
		{"unknown operation", "Frobnicate", `{}`, akid, 400, "UnknownOperationException"},
		{"unknown key", "ListSecrets", `{}`, "AKIAUNKNOWNUNKNOWN00", 400, "UnrecognizedClientException"},
		{"malformed body", "ListSecrets", `{`, akid, 400, "SerializationException"},
		{"success", "ListSecrets", `{}`, akid, 200, ""},
		{"internal error is 500", "DescribeSecret", `{"SecretId":"x"}`, akid, 500, "InternalServiceError"},
	}
	s.InjectFault(localaws.Fault{Operation: "DescribeSecret", Kind: localaws.InternalError})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := signed(tt.op, tt.body, tt.akid)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("X-Amzn-ErrorType"); got != tt.errType {
				t.Errorf("X-Amzn-ErrorType = %q, want %q", got, tt.errType)
			}
			b, _ := io.ReadAll(resp.Body)
			var body map[string]any
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", b, err)
			}
			if tt.errType != "" {
				if body["__type"] != tt.errType {
					t.Errorf("__type = %v, want %s", body["__type"], tt.errType)
				}
				if _, ok := body["Message"]; !ok {
					t.Errorf("body %s has no Message", b)
				}
			}
		})
	}
}

func TestGetRandomPassword(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	ctx := t.Context()
	const punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	tests := []struct {
		name    string
		in      secretsmanager.GetRandomPasswordInput
		length  int
		code    string
		classes []string // each must appear
		never   string   // none may appear
	}{
		{"defaults", secretsmanager.GetRandomPasswordInput{}, 32, "", []string{"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", punct}, " "},
		{"postgres exclusions", secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(20), ExcludeCharacters: aws.String(":/@\"'\\")}, 20, "", nil, ":/@\"'\\"},
		{"letters only with space", secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(6), ExcludeNumbers: aws.Bool(true), ExcludePunctuation: aws.Bool(true), IncludeSpace: aws.Bool(true)}, 6, "", []string{"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", " "}, "0123456789"},
		{"too short for the required types", secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(3)}, 0, "InvalidParameterException", nil, ""},
		{"length 3 without requirement", secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(3), RequireEachIncludedType: aws.Bool(false)}, 3, "", nil, ""},
		{"too long", secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(4097)}, 0, "ValidationException", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.GetRandomPassword(ctx, &tt.in)
			if got := code(err); got != tt.code {
				t.Fatalf("error = %q (%v), want %q", got, err, tt.code)
			}
			if err != nil {
				return
			}
			pw := aws.ToString(out.RandomPassword)
			if len(pw) != tt.length {
				t.Errorf("length %d, want %d", len(pw), tt.length)
			}
			for _, cl := range tt.classes {
				if !strings.ContainsAny(pw, cl) {
					t.Errorf("no character of %q", cl)
				}
			}
			if tt.never != "" && strings.ContainsAny(pw, tt.never) {
				t.Errorf("contains an excluded character")
			}
		})
	}
	t.Run("required characters are shuffled", func(t *testing.T) {
		// With length 4 and four required classes, an unshuffled generator
		// always puts punctuation last.
		lastIsPunct := 0
		for range 40 {
			out, err := c.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(4)})
			if err != nil {
				t.Fatal(err)
			}
			pw := aws.ToString(out.RandomPassword)
			if strings.ContainsRune(punct, rune(pw[3])) {
				lastIsPunct++
			}
		}
		if lastIsPunct == 40 {
			t.Error("punctuation was last in 40 of 40 passwords: required characters are not shuffled")
		}
	})
}
