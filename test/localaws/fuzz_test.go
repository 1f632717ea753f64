package localaws

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/eu-west-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIA//x/aws4_request")
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, h string) {
		akid, region, ok := parseAuthorization(h)
		if !ok {
			return
		}
		if akid == "" || strings.Contains(akid, "/") || strings.Contains(region, "/") {
			t.Fatalf("parseAuthorization(%q) = %q, %q", h, akid, region)
		}
	})
}

func FuzzParseSecretARN(f *testing.F) {
	f.Add("arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-AbC123")
	f.Add("arn:aws:secretsmanager:::secret:")
	f.Add("name")
	f.Fuzz(func(t *testing.T, id string) {
		region, account, rest, ok := parseSecretARN(id)
		if ok && (rest == "" || strings.Contains(region, ":") || strings.Contains(account, ":")) {
			t.Fatalf("parseSecretARN(%q) = %q, %q, %q", id, region, account, rest)
		}
	})
}

func FuzzWords(f *testing.F) {
	f.Add("credsDatabase#892")
	f.Add("ÄÖü 12ab")
	f.Fuzz(func(t *testing.T, s string) {
		for _, w := range words(s) {
			if w == "" || w != strings.ToLower(w) {
				t.Fatalf("words(%q) has %q", s, w)
			}
		}
	})
}

// FuzzSecretsManagerRequest sends arbitrary bodies to every operation: the
// server must answer 200 or a well-formed error, never panic.
func FuzzSecretsManagerRequest(f *testing.F) {
	ops := make([]string, 0, len(smOps))
	for op := range smOps {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	f.Add(uint8(0), []byte(`{"Name":"a","SecretString":"x"}`))
	f.Add(uint8(3), []byte(`{"SecretId":"a","VersionStages":["AWSCURRENT"],"SecretString":"y"}`))
	f.Add(uint8(7), []byte(`{"SecretId":"a","VersionStage":"AWSCURRENT","MoveToVersionId":"00000000000000000000000000000000"}`))
	f.Add(uint8(9), []byte(`{"Filters":[{"Key":"all","Values":["!x"]}],"MaxResults":1,"NextToken":"bzox"}`))
	f.Add(uint8(12), []byte(`{"PasswordLength":5,"ExcludeCharacters":"abcdefghijklmnopqrstuvwxyz"}`))
	s := New(Options{})
	s.RegisterFunction("arn:aws:lambda:us-east-1:123456789012:function:f", HandlerFunction(func(context.Context, []byte) ([]byte, error) { return nil, nil }))
	akid := s.DefaultCredentials().AccessKeyID
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "secretsmanager."+ops[int(op)%len(ops)])
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: body %q is not a JSON object: %v", ops[int(op)%len(ops)], rec.Body.Bytes(), err)
		}
		switch rec.Code {
		case 200:
		case 400, 403, 500:
			if out["__type"] == nil || rec.Header().Get("X-Amzn-ErrorType") == "" {
				t.Fatalf("error answer without __type/X-Amzn-ErrorType: %d %s", rec.Code, rec.Body.Bytes())
			}
		default:
			t.Fatalf("status %d", rec.Code)
		}
	})
}

func FuzzVerifySigV4(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=ab", "20260101T000000Z", "/?a=b c")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIA/2/r/s/aws4_request, SignedHeaders=, Signature=", "2", "/%zz")
	f.Fuzz(func(t *testing.T, auth, date, target string) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1"+target, nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-Amz-Date", date)
		if verifySigV4(req, nil, "secret") {
			t.Fatalf("a made-up signature verified: %q", auth)
		}
	})
}
