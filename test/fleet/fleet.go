package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/rotation"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// CentralAccount is the account the central function runs in.
const CentralAccount = localaws.DefaultAccount

// Config sizes a run. Zero fields take the defaults of the full run.
type Config struct {
	Secrets     int           // default 1000
	Accounts    int           // member accounts, default 20
	Concurrency int           // rotations in flight, default 16
	Throttle    float64       // probability a call is throttled, default 0.05
	LatencyP    float64       // probability a call is delayed, default 0.10
	Latency     time.Duration // the delay, default 5ms
	Seed        uint64        // fault draws
	Timeout     time.Duration // the whole run, default 10m
	// Function, when set, is invoked for each step instead of the
	// in-process central engine (e.g. a built function under the RIE). It
	// receives the emulator's URL and the function's credentials through
	// Setup before any rotation.
	Function localaws.Function
	// Setup is called once the emulator runs, with its URL and the central
	// function's credentials, before any rotation (for Function).
	Setup func(url string, creds localaws.Credentials) error

	// The deployment, for runs judged against the shipped IAM (test/iam).
	// Zero values keep the load test's own: CentralAccount, Accounts member
	// accounts MemberAccount(i), no ExternalId, the function rotary-central
	// acting with the central account's credentials.
	Central    string   // the central account
	Members    []string // the member accounts (Accounts is then their number)
	ExternalID string   // the member roles require it; the function sends it
	// Prepare is called once the emulator serves (on its URL) and the
	// accounts exist, before any secret is made: it may set up what the run
	// is judged with (SetOrganization, roles) and returns the credentials
	// the central function acts with (e.g. a session of its execution
	// role). The emulator keeps its request log after Run returns.
	Prepare func(srv *localaws.Server) (localaws.Credentials, error)
}

func (c Config) withDefaults() Config {
	if c.Secrets == 0 {
		c.Secrets = 1000
	}
	if c.Accounts == 0 {
		c.Accounts = 20
	}
	if c.Concurrency == 0 {
		c.Concurrency = 16
	}
	if c.Throttle == 0 {
		c.Throttle = 0.05
	}
	if c.LatencyP == 0 {
		c.LatencyP = 0.10
	}
	if c.Latency == 0 {
		c.Latency = 5 * time.Millisecond
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Central == "" {
		c.Central = CentralAccount
	}
	if len(c.Members) == 0 {
		for i := range c.Accounts {
			c.Members = append(c.Members, MemberAccount(i+1))
		}
	}
	c.Accounts = len(c.Members)
	return c
}

// FunctionARN returns the ARN of the rotation function every secret names:
// rotary-central in the central account.
func (c Config) FunctionARN() string {
	central := c.Central
	if central == "" {
		central = CentralAccount
	}
	return "arn:aws:lambda:us-east-1:" + central + ":function:rotary-central"
}

// Result is what a run measured. Durations are in milliseconds.
type Result struct {
	Engine             string         `json:"engine"`
	Mode               string         `json:"mode"` // "in-process" or "rie" (built central function)
	Secrets            int            `json:"secrets"`
	Accounts           int            `json:"accounts"`
	Concurrency        int            `json:"concurrency"`
	ThrottleRate       float64        `json:"throttleRate"`
	LatencyRate        float64        `json:"latencyRate"`
	LatencyMs          float64        `json:"latencyMs"`
	WallMs             float64        `json:"wallMs"`
	RotationsPerSec    float64        `json:"rotationsPerSec"`
	P50Ms              float64        `json:"p50Ms"`
	P99Ms              float64        `json:"p99Ms"`
	AssumeRole         map[string]int `json:"assumeRolePerAccount"` // successful AssumeRole calls per member account
	AssumeRoleMax      int            `json:"assumeRoleMaxPerAccount"`
	AssumeRoleAttempts int            `json:"assumeRoleAttempts"` // HTTP requests, throttled ones included
	SMRequests         int            `json:"smRequests"`         // the function's Secrets Manager HTTP requests
	SMThrottled        int            `json:"smThrottled"`        // of which throttled (retried by the SDK)
	SMCallsPerRotation float64        `json:"smCallsPerRotation"` // not throttled, per rotation
	ServiceRetries     int            `json:"serviceRetries"`     // rotations that needed a second attempt
	Failed             int            `json:"failedRotations"`
	Lost               int            `json:"lostCredentials"`
	// Errors holds, for the first failed rotations, what failed (the
	// administrator's RotateSecret error or the last run's error), so a
	// report says why; no secret value is in them.
	Errors []string `json:"errors,omitempty"`
}

// maxErrors bounds Result.Errors.
const maxErrors = 5

// recorder wraps the emulator and counts the central function's calls.
type recorder struct {
	aws   *localaws.Server
	admin map[string]bool // access key IDs of the administrators

	mu          sync.Mutex
	assume      map[string]int
	assumeTries int
	sm          int
	throttled   int
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	auth := req.Header.Get("Authorization")
	akid := ""
	if i := strings.Index(auth, "Credential="); i >= 0 {
		akid, _, _ = strings.Cut(auth[i+len("Credential="):], "/")
	}
	if r.admin[akid] {
		r.aws.ServeHTTP(w, req)
		return
	}
	target := req.Header.Get("X-Amz-Target")
	roleAccount := ""
	if target == "" {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") == "AssumeRole" {
			if parts := strings.Split(form.Get("RoleArn"), ":"); len(parts) >= 5 {
				roleAccount = parts[4]
			}
		}
	}
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	r.aws.ServeHTTP(sw, req)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case strings.HasPrefix(target, "secretsmanager."):
		r.sm++
		if sw.code == http.StatusBadRequest && strings.Contains(sw.Header().Get("X-Amzn-Errortype"), "Throttling") {
			r.throttled++
		}
	case roleAccount != "":
		r.assumeTries++
		if sw.code == http.StatusOK {
			r.assume[roleAccount]++
		}
	}
}

// TagRotate is the marker tag (value "true") of a secret a Rotary function
// rotates; the shipped IAM touches only secrets carrying it.
const TagRotate = "rotary:rotate"

// FunctionARN is the rotation function every secret names in the load
// test's own deployment (Config.FunctionARN with no Central).
const FunctionARN = "arn:aws:lambda:us-east-1:" + CentralAccount + ":function:rotary-central"

// MemberAccount returns the i-th member account ID.
func MemberAccount(i int) string { return fmt.Sprintf("2000000000%02d", i) }

// Run performs a fleet run. It listens on loopback only and ends within
// cfg.Timeout.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	srv := localaws.New(localaws.Options{Seed: cfg.Seed, RotationRetries: 2, InvokeTimeout: time.Minute})
	rec := &recorder{aws: srv, admin: map[string]bool{}, assume: map[string]int{}}
	hs := httptest.NewServer(rec) // 127.0.0.1
	defer hs.Close()
	defer srv.WaitRotations()
	srv.URL = hs.URL

	fnCreds := srv.AddAccount(cfg.Central)
	members := cfg.Members
	admins := map[string]*secretsmanager.Client{}
	for _, acct := range members {
		srv.AddRole(localaws.Role{Account: acct, Name: awsx.DefaultRoleName, TrustedAccounts: []string{cfg.Central}, ExternalID: cfg.ExternalID})
		c := srv.AddAccount(acct)
		rec.admin[c.AccessKeyID] = true
		// The administrators drive the run; they are not under test, so
		// their calls ride out the injected throttling (the function's own
		// clients keep the SDK defaults).
		admins[acct] = secretsmanager.NewFromConfig(srv.AWSConfig(c, "us-east-1"), func(o *secretsmanager.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = 10
				so.RateLimiter = ratelimit.None
			})
		})
	}
	if cfg.Prepare != nil {
		var err error
		if fnCreds, err = cfg.Prepare(srv); err != nil {
			return Result{}, fmt.Errorf("prepare: %w", err)
		}
	}
	fnARN := cfg.FunctionARN()

	if cfg.Function != nil {
		if cfg.Setup != nil {
			if err := cfg.Setup(hs.URL, fnCreds); err != nil {
				return Result{}, err
			}
		}
		srv.RegisterFunction(fnARN, cfg.Function)
	} else {
		eng, err := newEngine(srv, fnCreds, cfg)
		if err != nil {
			return Result{}, err
		}
		h := lambda.NewHandler(eng.Handle)
		srv.RegisterFunction(fnARN, localaws.HandlerFunction(h.Invoke))
	}

	// The secrets, spread evenly over the member accounts, tagged for
	// rotation as the README tells users to (the shipped IAM requires it).
	type item struct {
		acct, arn, initial string
	}
	items := make([]item, cfg.Secrets)
	for i := range items {
		acct := members[i%len(members)]
		initial := "initial-" + fmt.Sprint(i) + "-" + randomSuffix()
		out, err := admins[acct].CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:         aws.String(fmt.Sprintf("fleet/app-%04d", i)),
			SecretString: aws.String(secret.Value{Engine: generic.Engine, Password: initial}.StoredJSON()),
			Tags:         []smtypes.Tag{{Key: aws.String(TagRotate), Value: aws.String("true")}},
		})
		if err != nil {
			return Result{}, fmt.Errorf("create secret %d: %w", i, err)
		}
		items[i] = item{acct: acct, arn: aws.ToString(out.ARN), initial: initial}
	}

	// Faults apply from here on, to every caller.
	srv.InjectFault(localaws.Fault{Kind: localaws.Throttle, Probability: cfg.Throttle})
	srv.InjectFault(localaws.Fault{Kind: localaws.Latency, Probability: cfg.LatencyP, Latency: cfg.Latency})

	lat := make([]time.Duration, len(items))
	errs := make([]error, len(items))
	work := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				it := items[i]
				t0 := time.Now()
				_, errs[i] = admins[it.acct].RotateSecret(ctx, &secretsmanager.RotateSecretInput{
					SecretId: aws.String(it.arn), RotationLambdaARN: aws.String(fnARN),
				})
				lat[i] = time.Since(t0)
			}
		}()
	}
	for i := range items {
		select {
		case work <- i:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	wall := time.Since(start)
	srv.ClearFaults()
	if ctx.Err() != nil {
		return Result{}, fmt.Errorf("fleet run did not finish within %s", cfg.Timeout)
	}

	res := Result{
		Engine: generic.Engine, Mode: "in-process",
		Secrets: cfg.Secrets, Accounts: cfg.Accounts, Concurrency: cfg.Concurrency,
		ThrottleRate: cfg.Throttle, LatencyRate: cfg.LatencyP, LatencyMs: ms(cfg.Latency),
		WallMs: ms(wall), RotationsPerSec: float64(len(items)) / wall.Seconds(),
		AssumeRole: map[string]int{},
	}
	if cfg.Function != nil {
		res.Mode = "rie, built function"
	}
	for i, it := range items {
		runs := srv.Rotations(it.arn)
		failed := false
		switch {
		case errs[i] != nil || len(runs) == 0:
			failed = true
			if len(res.Errors) < maxErrors {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: RotateSecret: %v (%d runs)", it.arn, errs[i], len(runs)))
			}
		case runs[len(runs)-1].Outcome != localaws.Succeeded:
			failed = true
			if last := runs[len(runs)-1]; len(res.Errors) < maxErrors {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: rotation failed after %d attempts: %s", it.arn, last.Attempts, last.Error))
			}
		}
		if failed {
			res.Failed++
			// A failed rotation must leave the secret as it was: its
			// AWSCURRENT still the initial credential.
			if !intact(ctx, admins[it.acct], it.arn, it.initial) {
				res.Lost++
			}
			continue
		}
		last := runs[len(runs)-1]
		if last.Attempts > 1 {
			res.ServiceRetries++
		}
		if !rotated(ctx, admins[it.acct], it.arn, last.Token, it.initial) {
			res.Lost++
		}
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	res.P50Ms, res.P99Ms = ms(percentile(sorted, 0.50)), ms(percentile(sorted, 0.99))
	rec.mu.Lock()
	for _, a := range members {
		res.AssumeRole[a] = rec.assume[a]
		res.AssumeRoleMax = max(res.AssumeRoleMax, rec.assume[a])
	}
	res.AssumeRoleAttempts = rec.assumeTries
	res.SMRequests, res.SMThrottled = rec.sm, rec.throttled
	rec.mu.Unlock()
	res.SMCallsPerRotation = float64(res.SMRequests-res.SMThrottled) / float64(len(items))
	return res, nil
}

// rotated reports whether the secret's rotation kept every credential: the
// rotation's version is AWSCURRENT with a new value and the initial value is
// AWSPREVIOUS.
// intact reports whether the secret's AWSCURRENT still holds the initial
// credential (what a failed rotation must leave).
func intact(ctx context.Context, sm *secretsmanager.Client, arn, initial string) bool {
	cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return false
	}
	c, err := secret.Parse([]byte(aws.ToString(cur.SecretString)))
	return err == nil && c.Password == initial
}

func rotated(ctx context.Context, sm *secretsmanager.Client, arn, token, initial string) bool {
	cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil || aws.ToString(cur.VersionId) != token {
		return false
	}
	prev, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil {
		return false
	}
	c, err1 := secret.Parse([]byte(aws.ToString(cur.SecretString)))
	p, err2 := secret.Parse([]byte(aws.ToString(prev.SecretString)))
	return err1 == nil && err2 == nil && c.Password != "" && c.Password != initial && p.Password == initial
}

// newEngine builds the central engine as functions/central does: awsx
// clients in central mode, allowed to reach every member account, with the
// members' ExternalId.
func newEngine(srv *localaws.Server, creds localaws.Credentials, cfg Config) (*rotation.Engine, error) {
	base := srv.AWSConfig(creds, "us-east-1")
	clients := awsx.New(base, awsx.Config{
		Mode: awsx.ModeCentral, RoleName: awsx.DefaultRoleName, AllowedAccounts: cfg.Members, ExternalID: cfg.ExternalID,
		HomeAccount: cfg.Central, FunctionName: "rotary-central",
	})
	reg := &rotators.Registry{}
	generic.Register(reg, password.Default(""))
	return rotation.New(rotation.Config{
		Clients: rotation.ClientsFunc(func(ctx context.Context, secretID, token string) (rotation.SecretsManagerAPI, error) {
			c, err := clients.SecretsManager(ctx, secretID, token)
			if err != nil {
				return nil, err
			}
			return c, nil
		}),
		Rotators: reg,
	})
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func randomSuffix() string { return rand.Text() }

// Summary is a one-paragraph human-readable account of r.
func (r Result) Summary() string {
	return fmt.Sprintf("%d secrets in %d accounts (%s, %s engine), concurrency %d, %.0f%% throttled, %.0f%% delayed %.0fms: "+
		"%.1f rotations/s, p50 %.1f ms, p99 %.1f ms, AssumeRole per account max %d (%d attempts), "+
		"%.2f Secrets Manager calls per rotation (%d throttled and retried), %d service retries, %d failed, %d lost credentials",
		r.Secrets, r.Accounts, r.Mode, r.Engine, r.Concurrency, r.ThrottleRate*100, r.LatencyRate*100, r.LatencyMs,
		r.RotationsPerSec, r.P50Ms, r.P99Ms, r.AssumeRoleMax, r.AssumeRoleAttempts,
		r.SMCallsPerRotation, r.SMThrottled, r.ServiceRetries, r.Failed, r.Lost)
}
