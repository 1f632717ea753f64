package saas_test

import (
	"net/http"
	"strings"
	"testing"
)

// contractExchange is one request and the answer a scripted provider gives.
type contractExchange struct {
	name         string
	method, url  string
	header       map[string]string
	body         string
	status       int
	respBody     string
	wantViolated bool
}

// TestContractDocumentsExamples: exchanges written from the providers'
// documentation, for operations the adapters may come to use (Twilio's
// account fetch and IAM keys, Okta's token endpoint with private_key_jwt and
// DPoP), are accepted, and near misses are not: the documents are neither
// blind nor stricter than the providers.
func TestContractDocumentsExamples(t *testing.T) {
	const ac = "AC0123456789abcdef0123456789abcdef"
	const sk = "SK0123456789abcdef0123456789abcdef"
	basicAuth := map[string]string{"Authorization": "Basic QUM6dG9rZW4="}
	form := map[string]string{"Authorization": "Basic QUM6dG9rZW4=", "Content-Type": "application/x-www-form-urlencoded"}
	twErr := `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`
	jwtForm := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	sgJSON := map[string]string{"Authorization": "Bearer SG.x", "Content-Type": "application/json"}
	oktaJSON := map[string]string{"Authorization": "SSWS t", "Content-Type": "application/json"}
	graphJSON := map[string]string{"Authorization": "Bearer eyJ", "Content-Type": "application/json"}
	const app = "01234567-89ab-cdef-0123-456789abcdef"
	cases := []contractExchange{
		{name: "twilio fetch account", method: "GET", url: "/2010-04-01/Accounts/" + ac + ".json", header: basicAuth, status: 200,
			respBody: `{"sid":"` + ac + `","owner_account_sid":"` + ac + `","status":"active","type":"Full","friendly_name":"sub","date_created":"Thu, 30 Jul 2015 20:00:00 +0000"}`},
		{name: "twilio fetch account refused", method: "GET", url: "/2010-04-01/Accounts/" + ac + ".json", header: basicAuth, status: 401, respBody: twErr},
		{name: "twilio fetch account of a restricted key", method: "GET", url: "/2010-04-01/Accounts/" + ac + ".json", header: basicAuth, status: 403,
			respBody: `{"code":20403,"message":"Forbidden","more_info":"https://www.twilio.com/docs/errors/20403","status":403}`},
		{name: "twilio iam create restricted key", method: "POST", url: "/v1/Keys", header: form,
			body:   "AccountSid=" + ac + "&FriendlyName=rotary-x&KeyType=restricted&Policy=%7B%22allow%22%3A%5B%22%2Ftwilio%2Fmessaging%2Fmessages%2Fread%22%5D%7D",
			status: 201, respBody: `{"sid":"` + sk + `","friendly_name":"rotary-x","secret":"s3cr3t","policy":{"allow":["/twilio/messaging/messages/read"]},"date_created":"Mon, 13 Jun 2016 22:50:08 +0000"}`},
		{name: "twilio iam fetch key", method: "GET", url: "/v1/Keys/" + sk, header: basicAuth, status: 200,
			respBody: `{"sid":"` + sk + `","friendly_name":"k","policy":null}`},
		{name: "twilio iam list keys", method: "GET", url: "/v1/Keys?AccountSid=" + ac + "&PageSize=1000", header: basicAuth, status: 200,
			respBody: `{"keys":[{"sid":"` + sk + `","friendly_name":"k","flags":["restricted"]}],"meta":{"page":0,"page_size":1000,"next_page_url":null}}`},
		{name: "twilio iam delete key", method: "DELETE", url: "/v1/Keys/" + sk, header: basicAuth, status: 204},
		{name: "twilio iam create without AccountSid", method: "POST", url: "/v1/Keys", header: form, body: "FriendlyName=x", status: 400, respBody: twErr, wantViolated: true},
		{name: "twilio iam create a main key", method: "POST", url: "/v1/Keys", header: form, body: "AccountSid=" + ac + "&KeyType=main", status: 400, respBody: twErr, wantViolated: true},
		{name: "twilio key sid of the wrong form", method: "DELETE", url: "/v1/Keys/SK123", header: basicAuth, status: 204, wantViolated: true},
		{name: "twilio create answer without secret", method: "POST", url: "/2010-04-01/Accounts/" + ac + "/Keys.json", header: form, body: "FriendlyName=x",
			status: 201, respBody: `{"sid":"` + sk + `","friendly_name":"x"}`, wantViolated: true},
		{name: "okta token private_key_jwt", method: "POST", url: "/oauth2/v1/token", header: jwtForm,
			body:   "grant_type=client_credentials&scope=okta.apps.read+okta.apps.manage&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJ.eyJ.sig",
			status: 200, respBody: `{"token_type":"Bearer","expires_in":3600,"access_token":"eyJ","scope":"okta.apps.read okta.apps.manage"}`},
		{name: "okta token with DPoP", method: "POST", url: "/oauth2/v1/token", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "DPoP": "eyJ.proof.sig"},
			body:   "grant_type=client_credentials&scope=okta.apps.manage&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJ.eyJ.sig",
			status: 400, respBody: `{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof."}`},
		{name: "okta token DPoP bound", method: "POST", url: "/oauth2/v1/token", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "DPoP": "eyJ.proof.sig"},
			body:   "grant_type=client_credentials&scope=okta.apps.manage&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJ.eyJ.sig",
			status: 200, respBody: `{"token_type":"DPoP","expires_in":3600,"access_token":"eyJ","scope":"okta.apps.manage"}`},
		{name: "okta management with a DPoP token", method: "GET", url: "/api/v1/apps/0oa1/credentials/secrets",
			header: map[string]string{"Authorization": "DPoP eyJ", "DPoP": "eyJ.proof.sig"}, status: 200, respBody: `[{"id":"ocs1","status":"ACTIVE"}]`},
		{name: "okta management with a Bearer token", method: "GET", url: "/api/v1/apps/0oa1/credentials/secrets",
			header: map[string]string{"Authorization": "Bearer eyJ"}, status: 403,
			respBody: `{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorLink":"E0000006","errorId":"oae1","errorCauses":[]}`},
		{name: "okta token without scope", method: "POST", url: "/oauth2/v1/token", header: jwtForm,
			body:   "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJ",
			status: 400, respBody: `{"error":"invalid_scope"}`, wantViolated: true},
		{name: "okta token credentials in two places", method: "POST", url: "/oauth2/v1/token",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic QUM6dG9rZW4="},
			body:   "grant_type=client_credentials&scope=x&client_id=a&client_secret=b", status: 200, respBody: `{"token_type":"Bearer","access_token":"x"}`, wantViolated: true},
		{name: "okta DPoP token without proof", method: "GET", url: "/api/v1/apps/0oa1/credentials/secrets",
			header: map[string]string{"Authorization": "DPoP eyJ"}, status: 200, respBody: `[]`, wantViolated: true},
		{name: "okta secret of unknown status", method: "GET", url: "/api/v1/apps/0oa1/credentials/secrets",
			header: map[string]string{"Authorization": "SSWS t"}, status: 200, respBody: `[{"id":"ocs1","status":"REVOKED"}]`, wantViolated: true},
		// A request with a value of the wrong type or outside its enum
		// fails, each beside its valid twin.
		{name: "sendgrid create key", method: "POST", url: "/v3/api_keys", header: sgJSON, body: `{"name":"rotary-x","scopes":["mail.send"]}`,
			status: 201, respBody: `{"api_key":"SG.x","api_key_id":"k1","name":"rotary-x","scopes":["mail.send"]}`},
		{name: "sendgrid scopes as a string", method: "POST", url: "/v3/api_keys", header: sgJSON, body: `{"name":"rotary-x","scopes":"mail.send"}`,
			status: 201, respBody: `{"api_key":"SG.x","api_key_id":"k1","name":"rotary-x","scopes":["mail.send"]}`, wantViolated: true},
		{name: "okta create an inactive secret", method: "POST", url: "/api/v1/apps/0oa1/credentials/secrets", header: oktaJSON, body: `{"status":"INACTIVE"}`,
			status: 201, respBody: `{"id":"ocs1","status":"INACTIVE","client_secret":"s3cr3t-s3cr3t-s3cr3t"}`},
		{name: "okta create a secret of unknown status", method: "POST", url: "/api/v1/apps/0oa1/credentials/secrets", header: oktaJSON, body: `{"status":"SLEEPING"}`,
			status: 201, respBody: `{"id":"ocs1","status":"INACTIVE","client_secret":"s3cr3t-s3cr3t-s3cr3t"}`, wantViolated: true},
		{name: "entra remove password", method: "POST", url: "/v1.0/applications/" + app + "/removePassword", header: graphJSON,
			body: `{"keyId":"` + app + `"}`, status: 204},
		{name: "entra remove password by a keyId not a GUID", method: "POST", url: "/v1.0/applications/" + app + "/removePassword", header: graphJSON,
			body: `{"keyId":"not-a-guid"}`, status: 204, wantViolated: true},
		{name: "sendgrid 100-key cap", method: "POST", url: "/v3/api_keys", header: map[string]string{"Authorization": "Bearer SG.x", "Content-Type": "application/json"},
			body: `{"name":"rotary-x","scopes":["mail.send"]}`, status: 403, respBody: `{"errors":[{"field":null,"message":"Cannot create more than 100 API keys"}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := loadContracts(t)
			rt := c.Wrap(roundTripFunc(func(*http.Request) (*http.Response, error) {
				h := http.Header{}
				if tc.respBody != "" {
					h.Set("Content-Type", "application/json")
				}
				return &http.Response{StatusCode: tc.status, Header: h, Body: bodyOf([]byte(tc.respBody))}, nil
			}))
			req, err := http.NewRequest(tc.method, "https://provider.example"+tc.url, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := c.Violations()
			if tc.wantViolated && len(got) == 0 {
				t.Error("the checker accepted an exchange the documents do not allow")
			}
			if tc.wantViolated {
				t.Logf("seen: %.300s", got)
			}
			if !tc.wantViolated && len(got) > 0 {
				t.Errorf("the checker refused a documented exchange: %.400s", got)
			}
		})
	}
}
