package awsx

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// stsFake is a minimal STS (Query protocol) for unit tests: AssumeRole with
// ExternalId and RoleSessionName checks, GetCallerIdentity, call counters.
// test/localaws is the full emulator; this one keeps awsx's tests standalone.
type stsFake struct {
	t          *testing.T
	srv        *httptest.Server
	home       string
	externalID string        // required ExternalId; "" accepts none only
	delay      time.Duration // AssumeRole latency, to widen race windows
	lifetime   time.Duration // credential lifetime; default 1h

	mu       sync.Mutex
	calls    map[string]int // "AssumeRole:<account>", "GetCallerIdentity"
	sessions []string
}

var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

func newSTSFake(t *testing.T, home, externalID string) *stsFake {
	t.Helper()
	f := &stsFake{t: t, home: home, externalID: externalID, calls: map[string]int{}, lifetime: time.Hour}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// config returns a base aws.Config whose every client talks to the fake.
func (f *stsFake) config() aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAHOME0000000000", "secret", ""),
		BaseEndpoint: aws.String(f.srv.URL),
		HTTPClient:   f.srv.Client(),
	}
}

func (f *stsFake) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func (f *stsFake) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.calls {
		n += v
	}
	return n
}

func (f *stsFake) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch r.Form.Get("Action") {
	case "GetCallerIdentity":
		f.mu.Lock()
		f.calls["GetCallerIdentity"]++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::%[1]s:assumed-role/exec/fn</Arn><UserId>AROAEXAMPLE:fn</UserId><Account>%[1]s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, f.home)
	case "AssumeRole":
		roleARN := r.Form.Get("RoleArn")
		parts := strings.Split(roleARN, ":")
		account := ""
		if len(parts) == 6 {
			account = parts[4]
		}
		session := r.Form.Get("RoleSessionName")
		f.mu.Lock()
		f.calls["AssumeRole:"+account]++
		f.sessions = append(f.sessions, session)
		f.mu.Unlock()
		time.Sleep(f.delay)
		if !sessionNameRE.MatchString(session) {
			stsError(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint")
			return
		}
		if r.Form.Get("ExternalId") != f.externalID {
			stsError(w, http.StatusForbidden, "AccessDenied", "User: arn:aws:sts::"+f.home+":assumed-role/exec/fn is not authorized to perform: sts:AssumeRole on resource: "+roleARN)
			return
		}
		exp := time.Now().Add(f.lifetime).UTC().Format(time.RFC3339)
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:sts::%[1]s:assumed-role/r/%[2]s</Arn><AssumedRoleId>AROAEXAMPLE:%[2]s</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>ASIA%[1]s</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>%[3]s</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>`, account, session, exp)
	default:
		stsError(w, http.StatusBadRequest, "InvalidAction", "unknown action")
	}
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>1</RequestId></ErrorResponse>`, code, msg)
}
