package localaws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// DefaultAccount is the account that exists in every Server and that
// DefaultCredentials act in.
const DefaultAccount = "123456789012"

// DefaultRegion is used when a request carries no SigV4 credential scope.
const DefaultRegion = "us-east-1"

// Options configures a Server. The zero value is usable.
type Options struct {
	// Region is the region used for requests whose Authorization header has no
	// credential scope. Default DefaultRegion.
	Region string

	// Seed seeds the generator behind fault probabilities, so a run with the
	// same calls in the same order faults the same calls. ARN suffixes, keys,
	// tokens and passwords always come from crypto/rand.
	Seed uint64

	// RotationRetries is how many times a failed rotation is re-driven (the
	// whole create/set/test/finish sequence, with the same token) after the
	// first attempt. AWS retries "multiple times"; the default is 0 so a test
	// sees one attempt unless it asks for more.
	RotationRetries int

	// AsyncRotation makes RotateSecret answer before the steps run, as the
	// service does. By default the steps run before RotateSecret answers, so a
	// test can read the outcome right after the call. Server.WaitRotations
	// waits for asynchronous rotations.
	AsyncRotation bool

	// InvokeTimeout bounds one step's invocation (the function's timeout).
	// Default 30s.
	InvokeTimeout time.Duration

	// AllowUnknownKeys maps access key IDs the server never issued to the
	// default account instead of refusing them with
	// UnrecognizedClientException / InvalidClientTokenId. Handy for the AWS CLI
	// with made-up credentials; tests of isolation want it off.
	AllowUnknownKeys bool

	// VerifySignatures recomputes each request's SigV4 signature with the
	// secret key of its access key ID and refuses a mismatch
	// (InvalidSignatureException; STS: SignatureDoesNotMatch). Off by
	// default: most tests only need the key ID to pick the account.
	VerifySignatures bool

	// Now is the clock (credential expiry, dates). Default time.Now.
	Now func() time.Time

	// RequestLogFile, when set, receives every LoggedRequest as one JSON line
	// (appended), besides Server.RequestLog.
	RequestLogFile string
}

// Credentials are static AWS credentials issued by the emulator.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string    // set for assumed-role credentials
	Expiration      time.Time // zero for long-term credentials
	Account         string    // the account the credentials act in
}

// Server is the emulator: an http.Handler serving Secrets Manager and STS on
// one endpoint. All methods are safe for concurrent use.
type Server struct {
	// URL is the endpoint when the server was started with Start; empty for a
	// Server made with New and served by the caller.
	URL string

	opts Options

	mu        sync.Mutex
	rng       *mrand.Rand
	keys      map[string]*keyRec // access key ID -> credentials
	accounts  map[string]bool
	defCreds  Credentials
	roles     map[string]Role // role ARN -> role
	functions map[string]Function
	stores    map[storeKey]*store
	reqLog    []LoggedRequest   // requestlog.go
	orgs      map[string]string // account -> organization ID (requestlog.go)
	faults    []*faultState
	calls     map[callKey]int
	total     int
	runs      map[string][]*RotationRun // secret ARN -> runs
	rds       map[string]rdsDB          // DB ARN -> instance or cluster (rds.go)
	ecUsers   map[string]*ecUser        // ElastiCache user ARN -> user (elasticache.go)
	iam       map[iamUserKey]*iamUser   // IAM users (iam.go)

	rotMu   sync.Mutex
	rotCond *sync.Cond
	rotN    int // asynchronous rotations still running
}

type storeKey struct{ account, region string }

type callKey struct{ op, account string }

// keyRec is one issued access key.
type keyRec struct {
	creds   Credentials
	arn     string // caller ARN (GetCallerIdentity)
	userID  string
	assumed bool
	role    string // role ARN for assumed-role keys
}

// New returns a Server with the default account and its credentials.
func New(opts Options) *Server {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.InvokeTimeout == 0 {
		opts.InvokeTimeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:      opts,
		rng:       mrand.New(mrand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		keys:      map[string]*keyRec{},
		accounts:  map[string]bool{},
		roles:     map[string]Role{},
		functions: map[string]Function{},
		stores:    map[storeKey]*store{},
		calls:     map[callKey]int{},
		runs:      map[string][]*RotationRun{},
	}
	s.rotCond = sync.NewCond(&s.rotMu)
	s.defCreds = s.AddAccount(DefaultAccount)
	return s
}

// Start runs a Server on a loopback httptest server, closed (after
// asynchronous rotations end) in t.Cleanup. At most one Options may be given.
func Start(t testing.TB, opts ...Options) *Server {
	t.Helper()
	var o Options
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		t.Fatalf("localaws.Start: at most one Options, got %d", len(opts))
	}
	s := New(o)
	hs := httptest.NewServer(s)
	s.URL = hs.URL
	t.Cleanup(func() {
		s.WaitRotations()
		hs.Close()
	})
	return s
}

// DefaultCredentials returns the credentials of DefaultAccount.
func (s *Server) DefaultCredentials() Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.defCreds
}

// AddAccount makes sure the account exists and returns a new pair of long-term
// credentials acting in it (an IAM user named "localaws").
func (s *Server) AddAccount(id string) Credentials {
	if !validAccountID(id) {
		panic(fmt.Sprintf("localaws: account ID must be 12 digits, got %q", id))
	}
	c := Credentials{
		AccessKeyID:     "AKIA" + randomString(upperDigits, 16),
		SecretAccessKey: randomString(alnum, 40),
		Account:         id,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[id] = true
	s.keys[c.AccessKeyID] = &keyRec{
		creds:  c,
		arn:    "arn:aws:iam::" + id + ":user/localaws",
		userID: "AIDA" + randomString(upperDigits, 17),
	}
	return c
}

// AddCredentials registers long-term credentials chosen by the caller (for a
// standalone server whose keys must survive restarts) acting in c.Account.
func (s *Server) AddCredentials(c Credentials) error {
	if !validAccountID(c.Account) {
		return fmt.Errorf("localaws: add credentials: account ID must be 12 digits")
	}
	if len(c.AccessKeyID) < 16 || len(c.AccessKeyID) > 128 || c.SecretAccessKey == "" || c.SessionToken != "" {
		return fmt.Errorf("localaws: add credentials for account %s: need an access key ID of 16-128 characters, a secret key and no session token", c.Account)
	}
	c.Expiration = time.Time{}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.keys[c.AccessKeyID]; taken {
		return fmt.Errorf("localaws: add credentials: access key ID %s is already registered", c.AccessKeyID)
	}
	s.accounts[c.Account] = true
	s.keys[c.AccessKeyID] = &keyRec{
		creds:  c,
		arn:    "arn:aws:iam::" + c.Account + ":user/localaws",
		userID: "AIDA" + randomString(upperDigits, 17),
	}
	return nil
}

// Accounts lists the accounts known to the server, in no particular order.
func (s *Server) Accounts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.accounts))
	for a := range s.accounts {
		out = append(out, a)
	}
	return out
}

// AWSConfig returns an aws.Config for the SDK's clients: static credentials,
// BaseEndpoint = s.URL and the SDK's default retryer.
func (s *Server) AWSConfig(creds Credentials, region string) aws.Config {
	if region == "" {
		region = s.opts.Region
	}
	return aws.Config{
		Region:       region,
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)),
		BaseEndpoint: aws.String(s.URL),
	}
}

// WaitRotations waits for rotations started asynchronously to end. It may be
// called while other rotations start.
func (s *Server) WaitRotations() {
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	for s.rotN > 0 {
		s.rotCond.Wait()
	}
}

func (s *Server) rotationStarted() {
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	s.rotN++
}

func (s *Server) rotationEnded() {
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	s.rotN--
	if s.rotN == 0 {
		s.rotCond.Broadcast()
	}
}

// Calls returns how many requests reached operation in account ("" for
// either means any). Faulted requests count; requests refused before the
// operation was known do not.
func (s *Server) Calls(operation, account string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if operation != "" && account != "" {
		return s.calls[callKey{operation, account}]
	}
	n := 0
	for k, v := range s.calls {
		if (operation == "" || k.op == operation) && (account == "" || k.account == account) {
			n += v
		}
	}
	return n
}

// TotalCalls returns the number of requests counted since the last ResetCalls.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetCalls sets every counter to zero.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[callKey]int{}
	s.total = 0
}

func (s *Server) now() time.Time { return s.opts.Now() }

// request is one authenticated call.
type request struct {
	ctx     context.Context
	op      string
	account string
	region  string
	caller  *keyRec
}

// ServeHTTP routes a request to Secrets Manager (X-Amz-Target:
// secretsmanager.<Operation>), RDS (Action=DescribeDBInstances or
// DescribeDBClusters, rds.go) or STS (any other form body with Action=...).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		writeJSONError(w, &apiError{400, "SerializationException", "could not read the request body"})
		return
	}
	s.logRDS(r, body)
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, "secretsmanager."):
		s.serveSecretsManager(w, r, strings.TrimPrefix(target, "secretsmanager."), body)
	case target != "":
		writeJSONError(w, &apiError{400, "UnknownOperationException", ""})
	default:
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("Action") == "" {
			if q := r.URL.Query(); q.Get("Action") != "" {
				form = q
			} else {
				writeXMLError(w, &apiError{400, "InvalidAction", "Could not find operation for the request"})
				return
			}
		}
		if isIAMAction(form.Get("Action")) {
			s.serveIAM(w, r, form, body)
			return
		}
		if isRDSAction(form.Get("Action")) {
			s.serveRDS(w, r, form, body)
			return
		}
		if isElastiCacheAction(form.Get("Action")) {
			s.serveElastiCache(w, r, form, body)
			return
		}
		s.serveSTS(w, r, form, body)
	}
}

// authenticate resolves the caller's account and region from the SigV4
// Authorization header. jsonProto selects the error codes of JSON services
// (Secrets Manager) or of STS.
func (s *Server) authenticate(r *http.Request, body []byte, jsonProto bool) (*keyRec, string, *apiError) {
	akid, region, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		if r.Header.Get("Authorization") == "" {
			return nil, "", &apiError{403, "MissingAuthenticationTokenException", "Missing Authentication Token"}
		}
		return nil, "", &apiError{400, "IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."}
	}
	if region == "" {
		region = s.opts.Region
	}
	s.mu.Lock()
	k := s.keys[akid]
	def := s.keys[s.defCreds.AccessKeyID]
	s.mu.Unlock()
	invalid := &apiError{400, "UnrecognizedClientException", "The security token included in the request is invalid."}
	if !jsonProto {
		invalid = &apiError{403, "InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	if k == nil {
		if s.opts.AllowUnknownKeys {
			return def, region, nil
		}
		return nil, "", invalid
	}
	if s.opts.VerifySignatures && !verifySigV4(r, body, k.creds.SecretAccessKey) {
		msg := "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
		if jsonProto {
			return nil, "", &apiError{400, "InvalidSignatureException", msg}
		}
		return nil, "", &apiError{403, "SignatureDoesNotMatch", msg}
	}
	if k.assumed {
		if r.Header.Get("X-Amz-Security-Token") != k.creds.SessionToken {
			return nil, "", invalid
		}
		if !s.now().Before(k.creds.Expiration) {
			return nil, "", &apiError{400, "ExpiredTokenException", "The security token included in the request is expired"}
		}
	}
	return k, region, nil
}

// parseAuthorization extracts the access key ID and region from
// "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...".
func parseAuthorization(h string) (akid, region string, ok bool) {
	rest, found := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !found {
		return "", "", false
	}
	for part := range strings.SplitSeq(rest, ",") {
		v, found := strings.CutPrefix(strings.TrimSpace(part), "Credential=")
		if !found {
			continue
		}
		f := strings.Split(v, "/")
		if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" {
			return "", "", false
		}
		return f[0], f[2], true
	}
	return "", "", false
}

// count records a call and returns the faults to apply to it.
func (s *Server) count(op, account string) *faultState {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[callKey{op, account}]++
	s.total++
	return s.pickFault(op, account)
}

// apiError is an error answer of either protocol. Messages never hold secret
// values or RotationTokens.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status, code, fmt.Sprintf(format, args...)}
}

func writeJSONError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.code)
	w.Header().Set("X-Amzn-RequestId", newUUID())
	w.WriteHeader(e.status)
	b, _ := json.Marshal(map[string]string{"__type": e.code, "Message": e.msg})
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSONError(w, &apiError{500, "InternalServiceError", "could not encode the response"})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newUUID())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

const (
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alnum       = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// randomString draws n characters of set from crypto/rand.
func randomString(set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[randIndex(len(set))]
	}
	return string(b)
}

// randIndex returns a uniform index in [0, n) from crypto/rand.
func randIndex(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic("localaws: crypto/rand: " + err.Error())
	}
	return int(v.Int64())
}

// newUUID returns a random version-4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func validAccountID(id string) bool {
	if len(id) != 12 {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
