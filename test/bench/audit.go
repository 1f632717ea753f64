package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/shared/audit"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// AuditConfig sizes the audit scale run. Zero fields take the full run's
// defaults: 20 member accounts of 1,000 secrets, 5 % of calls throttled.
type AuditConfig struct {
	Accounts          int
	SecretsPerAccount int
	Throttle          float64
	Seed              uint64
}

// AuditResult is what the audit scale run measured. The audit runs as the
// built functions/audit binary (outside Lambda, -json) against localaws.
type AuditResult struct {
	Accounts          int                 `json:"accounts"`
	SecretsPerAccount int                 `json:"secretsPerAccount"`
	ThrottleRate      float64             `json:"throttleRate"`
	Planted           map[audit.Check]int `json:"planted"`
	Found             map[audit.Check]int `json:"found"`
	SecretsAudited    int                 `json:"secretsAudited"`
	Missed            bool                `json:"missed"` // summary differs from the planted counts
	WallMs            float64             `json:"wallMs"`
	SecretsPerSec     float64             `json:"secretsPerSec"`
	APICallsPerSecret float64             `json:"apiCallsPerSecret"` // the audit's Secrets Manager calls, retries not counted
	RequestsPerSecret float64             `json:"requestsPerSecret"` // HTTP requests reaching Secrets Manager, throttled ones included
	Throttled         int                 `json:"throttled"`         // requests answered ThrottlingException (retried by the SDK)
	CallsByOperation  map[string]int      `json:"callsByOperation"`
	AssumeRoleMax     int                 `json:"assumeRoleMaxPerAccount"` // successful AssumeRole calls, worst account
	AssumeRoleTries   int                 `json:"assumeRoleAttempts"`
	ValueReads        int                 `json:"valueReads"` // GetSecretValue + BatchGetSecretValue: must be 0
	PeakRSSKiB        int64               `json:"peakRssKiB"`
}

// Summary is a one-line account of r.
func (r AuditResult) Summary() string {
	miss := "nothing missed (summary equals the planted counts)"
	if r.Missed {
		miss = fmt.Sprintf("MISSED: planted %v, found %v", r.Planted, r.Found)
	}
	return fmt.Sprintf("%d secrets in %d accounts, %.0f%% throttled: %.0f secrets/s, %.2f API calls per secret (%.2f HTTP requests, %d throttled and retried), AssumeRole per account max %d (%d attempts), %d value reads, peak RSS %.1f MiB; %s",
		r.SecretsAudited, r.Accounts, r.ThrottleRate*100, r.SecretsPerSec, r.APICallsPerSecret, r.RequestsPerSecret, r.Throttled,
		r.AssumeRoleMax, r.AssumeRoleTries, r.ValueReads, float64(r.PeakRSSKiB)/1024, miss)
}

// auditMember is the i-th member account of the audit run.
func auditMember(i int) string { return fmt.Sprintf("3000000000%02d", i) }

// auditRecorder counts successful AssumeRole calls per target account and
// throttled answers.
type auditRecorder struct {
	h         http.Handler
	mu        sync.Mutex
	assumed   map[string]int
	tries     int
	throttled int
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(c int) { w.code = c; w.ResponseWriter.WriteHeader(c) }

func (a *auditRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	cw := &codeWriter{ResponseWriter: w, code: 200}
	a.h.ServeHTTP(cw, r)
	form, _ := url.ParseQuery(string(body))
	a.mu.Lock()
	defer a.mu.Unlock()
	if cw.Header().Get("X-Amzn-ErrorType") == "ThrottlingException" {
		a.throttled++
	}
	if form.Get("Action") == "AssumeRole" {
		a.tries++
		if cw.code == 200 {
			parts := strings.Split(form.Get("RoleArn"), ":")
			if len(parts) > 4 {
				a.assumed[parts[4]]++
			}
		}
	}
}

// RunAudit plants cfg's secrets in localaws — one in 50 with a rotation stuck
// for two days, one in 100 without rotation, one in 200 with a public
// policy, the rest clean — throttles cfg.Throttle of all calls, runs the
// built audit binary bin over every account and compares its summary with
// what was planted.
func RunAudit(ctx context.Context, bin string, cfg AuditConfig) (AuditResult, error) {
	if cfg.Accounts == 0 {
		cfg.Accounts = 20
	}
	if cfg.SecretsPerAccount == 0 {
		cfg.SecretsPerAccount = 1000
	}
	if cfg.Throttle == 0 {
		cfg.Throttle = 0.05
	}
	const region = "us-east-1"
	home := localaws.DefaultAccount
	fleetFn := "arn:aws:lambda:us-east-1:" + home + ":function:rotary-central"
	srv := localaws.New(localaws.Options{Seed: cfg.Seed})
	rec := &auditRecorder{h: srv, assumed: map[string]int{}}
	hs := httptest.NewServer(rec)
	defer hs.Close()
	srv.URL = hs.URL

	res := AuditResult{Accounts: cfg.Accounts, SecretsPerAccount: cfg.SecretsPerAccount, ThrottleRate: cfg.Throttle, Planted: map[audit.Check]int{}}
	var members []string
	now := time.Now()
	public := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
	for a := range cfg.Accounts {
		acct := auditMember(a)
		members = append(members, acct)
		creds := srv.AddAccount(acct)
		srv.AddRole(localaws.Role{Account: acct, Name: awsx.DefaultRoleName, TrustedAccounts: []string{home}})
		sm := secretsmanager.NewFromConfig(srv.AWSConfig(creds, region))
		sem := make(chan struct{}, 16)
		var wg sync.WaitGroup
		errs := make(chan error, cfg.SecretsPerAccount)
		for i := range cfg.SecretsPerAccount {
			st := localaws.SecretState{
				Rotation:    &localaws.PlantedRotation{LambdaARN: fleetFn, Rules: localaws.RotationRules{AutomaticallyAfterDays: aws.Int64(30)}},
				LastRotated: now.Add(-24 * time.Hour), LastAccessed: now,
			}
			switch {
			case i%50 == 0:
				st.Pending = &localaws.PlantedPending{Created: now.Add(-48 * time.Hour), WithValue: true}
				res.Planted[audit.RotationStuck]++
			case i%100 == 1:
				st.RotationOff = true
				res.Planted[audit.RotationDisabled]++
			case i%200 == 2:
				st.ResourcePolicy = &public
				res.Planted[audit.PublicOrExternalPolicy]++
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("app/s%04d", i)),
					SecretString: aws.String("bench-value"), KmsKeyId: aws.String("alias/app")})
				if err == nil {
					_, err = srv.SetSecretState(acct, region, aws.ToString(out.ARN), st)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return res, fmt.Errorf("plant secrets in %s: %w", acct, err)
		}
	}

	srv.InjectFault(localaws.Fault{Kind: localaws.Throttle, Probability: cfg.Throttle})
	srv.ResetCalls()
	rec.mu.Lock()
	rec.throttled = 0
	rec.mu.Unlock()
	hc := srv.DefaultCredentials()
	cmd := exec.CommandContext(ctx, bin, "-json", "-fail-on", "critical")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
		"AWS_ENDPOINT_URL=" + hs.URL, "AWS_REGION=" + region, "AWS_ACCESS_KEY_ID=" + hc.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + hc.SecretAccessKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"ROTARY_MODE=central", "ROTARY_HOME_ACCOUNT=" + home, "ROTARY_ALLOWED_ACCOUNTS=" + strings.Join(members, ","),
		"ROTARY_AUDIT_CONCURRENCY=8", "ROTARY_AUDIT_ACCOUNT_CONCURRENCY=4",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("run audit: %w", err)
	}
	// The peak RSS is the process's own VmHWM, read until it exits:
	// rusage's ru_maxrss of a child can include the parent's pages at fork.
	done, stopped := make(chan struct{}), make(chan struct{})
	var hwm int64
	go func() {
		defer close(stopped)
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if b, err := os.ReadFile(status); err == nil {
				if v := vmHWM(string(b)); v > hwm {
					hwm = v
				}
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	<-stopped
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		return res, fmt.Errorf("run audit: %w\n%s", err, stderr.String())
	}
	res.PeakRSSKiB = hwm
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var sum struct {
		Summary audit.Summary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		return res, fmt.Errorf("read the audit's summary: %w", err)
	}
	s := sum.Summary
	res.Found = s.ByCheck
	res.SecretsAudited = s.Secrets
	res.Missed = s.Secrets != cfg.Accounts*cfg.SecretsPerAccount || s.AccountsFailed != 0 || s.Vanished != 0 || len(s.ByCheck) != len(res.Planted)
	for c, n := range res.Planted {
		if s.ByCheck[c] != n {
			res.Missed = true
		}
	}
	res.WallMs = float64(wall.Microseconds()) / 1000
	res.SecretsPerSec = float64(s.Secrets) / wall.Seconds()
	logical := 0
	for _, n := range s.APICalls {
		logical += n
	}
	res.CallsByOperation = s.APICalls
	res.APICallsPerSecret = float64(logical) / float64(max(s.Secrets, 1))
	smRequests := 0
	for _, op := range []string{"ListSecrets", "DescribeSecret", "ListSecretVersionIds", "GetResourcePolicy", "GetSecretValue", "BatchGetSecretValue"} {
		smRequests += srv.Calls(op, "")
	}
	res.RequestsPerSecret = float64(smRequests) / float64(max(s.Secrets, 1))
	res.ValueReads = srv.Calls("GetSecretValue", "") + srv.Calls("BatchGetSecretValue", "")
	rec.mu.Lock()
	res.Throttled = rec.throttled
	res.AssumeRoleTries = rec.tries
	for _, n := range rec.assumed {
		res.AssumeRoleMax = max(res.AssumeRoleMax, n)
	}
	rec.mu.Unlock()
	return res, nil
}

// vmHWM reads VmHWM (KiB) from a /proc/<pid>/status text.
func vmHWM(status string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var n int64
			_, _ = fmt.Sscanf(strings.TrimSpace(v), "%d", &n)
			return n
		}
	}
	return 0
}
