package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/rotation"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// Stats returns a rotator's login counters (nil for rotators without a
// target to log in to).
type Stats func() (logins, failed int64)

// Subject is one rotator to measure: its registry and secrets in a MemSM.
type Subject struct {
	Name     string
	Registry *rotators.Registry
	SM       *MemSM
	ARN      string // the rotated secret, already stored in SM
	Stats    Stats
}

// Token returns a new ClientRequestToken.
func Token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// MeasureRotator runs one warm-up rotation, then n measured ones, step by
// step through the real engine against s.SM, and returns the per-rotation
// counts and per-step allocations (runtime.MemStats deltas around each step,
// as testing.B's ReportAllocs measures them).
func MeasureRotator(tb testing.TB, s Subject, n int) RotatorFigures {
	tb.Helper()
	eng, err := rotation.New(rotation.Config{Clients: rotation.Static(s.SM), Rotators: s.Registry})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	f := RotatorFigures{
		Rotator: s.Name, Rotations: n, SMCallsByStep: map[string]float64{},
		AllocsPerStep: map[string]int64{}, BytesPerStep: map[string]int64{}, MicrosPerStep: map[string]int64{},
		HasTargetLogin: s.Stats != nil,
	}
	var m0, m1 runtime.MemStats
	callsByStep := map[string]int{}
	rotate := func(measure bool) {
		token := Token()
		s.SM.Begin(s.ARN, token)
		for _, step := range steps {
			s.SM.Reset()
			runtime.ReadMemStats(&m0)
			t0 := time.Now()
			err := eng.Handle(ctx, events.SecretsManagerSecretRotationEvent{Step: step, SecretID: s.ARN, ClientRequestToken: token})
			d := time.Since(t0)
			runtime.ReadMemStats(&m1)
			if err != nil {
				tb.Fatalf("%s: %s: %v", s.Name, step, err)
			}
			if measure {
				callsByStep[step] += s.SM.Total()
				f.AllocsPerStep[step] += int64(m1.Mallocs - m0.Mallocs)
				f.BytesPerStep[step] += int64(m1.TotalAlloc - m0.TotalAlloc)
				f.MicrosPerStep[step] += d.Microseconds()
			}
		}
	}
	rotate(false)
	var l0, fl0 int64
	if s.Stats != nil {
		l0, fl0 = s.Stats()
	}
	for range n {
		rotate(true)
	}
	if s.Stats != nil {
		l1, fl1 := s.Stats()
		f.Logins = float64(l1-l0) / float64(n)
		f.FailedLogins = float64(fl1-fl0) / float64(n)
	}
	total := 0
	for _, step := range steps {
		total += callsByStep[step]
		f.SMCallsByStep[step] = float64(callsByStep[step]) / float64(n)
		f.AllocsPerStep[step] /= int64(n)
		f.BytesPerStep[step] /= int64(n)
		f.MicrosPerStep[step] /= int64(n)
	}
	f.SMCalls = float64(total) / float64(n)
	return f
}

// FunctionSubject is one built function to start under the RIE.
type FunctionSubject struct {
	Name      string
	RIE       string   // the RIE binary
	Bootstrap string   // the function, built for this host
	Env       []string // extra environment (CA bundle, …)
	Value     secret.Value
	Master    *secret.Value // stored first; Value.MasterARN is set to it
	What      string        // what the rotation rotates, for the report
	// Setup, when set, prepares the fresh emulator (an IAM user, an
	// ElastiCache user) and returns the secret value, which replaces Value.
	// The secret is stored as "bench/" + Name.
	Setup func(srv *localaws.Server) secret.Value
	// Bind, when set, runs once the secret is stored, with its ARN (an IAM
	// user is given to its secret by the full ARN, known only then).
	Bind func(srv *localaws.Server, arn string)
}

// MeasureFunction starts the function under the RIE against a fresh
// emulator, rotates the secret twice through RotateSecret, and returns the
// cold start (the first invocation, which starts the process, until
// createSecret answered), the second rotation's createSecret and the
// process's peak RSS (VmHWM).
func MeasureFunction(tb testing.TB, s FunctionSubject) FunctionFigures {
	tb.Helper()
	ctx := tb.Context()
	srv := localaws.Start(tb)
	creds := srv.AddAccount(localaws.DefaultAccount)
	fn, err := lambdarie.Start(ctx, s.RIE, s.Bootstrap, append([]string{
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
		"AWS_ENDPOINT_URL=" + srv.URL,
		"ROTARY_HOME_ACCOUNT=" + localaws.DefaultAccount,
	}, s.Env...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(fn.Stop)
	var mu sync.Mutex
	var durations []time.Duration
	invoke := localaws.HTTPFunction(fn.InvokeURL)
	arnFn := "arn:aws:lambda:us-east-1:" + localaws.DefaultAccount + ":function:" + s.Name
	srv.RegisterFunction(arnFn, localaws.HandlerFunction(func(ctx context.Context, p []byte) ([]byte, error) {
		t0 := time.Now()
		out, err := invoke.Invoke(ctx, p)
		mu.Lock()
		durations = append(durations, time.Since(t0))
		mu.Unlock()
		return out, err
	}))
	sm := secretsmanager.NewFromConfig(srv.AWSConfig(srv.DefaultCredentials(), ""))
	v := s.Value
	if s.Setup != nil {
		v = s.Setup(srv)
	}
	if s.Master != nil {
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bench/master"), SecretString: aws.String(s.Master.StoredJSON())})
		if err != nil {
			tb.Fatal(err)
		}
		v.MasterARN = aws.ToString(out.ARN)
	}
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bench/" + s.Name), SecretString: aws.String(v.StoredJSON())})
	if err != nil {
		tb.Fatal(err)
	}
	if s.Bind != nil {
		s.Bind(srv, aws.ToString(out.ARN))
	}
	for i := range 2 {
		if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: out.ARN, RotationLambdaARN: aws.String(arnFn)}); err != nil {
			tb.Fatal(err)
		}
		runs := srv.Rotations(aws.ToString(out.ARN))
		if last := runs[len(runs)-1]; last.Outcome != localaws.Succeeded {
			tb.Fatalf("%s: rotation %d failed: %s\nfunction logs:\n%s", s.Name, i+1, last.Error, fn.Logs())
		}
	}
	rss, err := PeakRSS(s.Bootstrap)
	if err != nil {
		tb.Fatalf("%s: %v", s.Name, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(durations) < 8 {
		tb.Fatalf("%s: %d invocations, want 8", s.Name, len(durations))
	}
	return FunctionFigures{
		Function: s.Name, RotatedWith: s.What,
		ColdStartMs: msf(durations[0]), WarmStepMs: msf(durations[4]), PeakRSSKiB: rss,
	}
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// PeakRSS finds the running process whose executable is bootstrap and
// returns its VmHWM (peak resident set size) in KiB.
func PeakRSS(bootstrap string) (int64, error) {
	abs, err := filepath.Abs(bootstrap)
	if err != nil {
		return 0, err
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("read /proc (peak RSS needs Linux): %w", err)
	}
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", d.Name(), "exe"))
		if err != nil || exe != abs {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "status"))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				fields := strings.Fields(rest)
				if len(fields) > 0 {
					return strconv.ParseInt(fields[0], 10, 64)
				}
			}
		}
		return 0, fmt.Errorf("no VmHWM in /proc/%s/status", d.Name())
	}
	return 0, fmt.Errorf("no running process of %s", abs)
}

// RIEAccount is the account of every function ARN the Lambda RIE hands the
// runtime (arn:aws:lambda:us-east-1:012345678912:function:<name>).
const RIEAccount = "012345678912"

// AccountModeSTSCalls starts bootstrap, a built generic function in account
// mode without ROTARY_HOME_ACCOUNT, under the RIE, rotates one generic secret
// of the RIE's account through it, and returns the STS calls (GetCallerIdentity
// and AssumeRole) made meanwhile. The function must take its account from the
// invoked function's ARN, so its cold start and the rotation make none.
func AccountModeSTSCalls(tb testing.TB, rie, bootstrap string) int {
	tb.Helper()
	ctx := tb.Context()
	srv := localaws.Start(tb)
	creds := srv.AddAccount(RIEAccount)
	fn, err := lambdarie.Start(ctx, rie, bootstrap, []string{"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey,
		"AWS_ENDPOINT_URL=" + srv.URL, "AWS_LAMBDA_FUNCTION_NAME=generic"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(fn.Stop)
	arnFn := "arn:aws:lambda:us-east-1:" + RIEAccount + ":function:generic"
	srv.RegisterFunction(arnFn, localaws.HTTPFunction(fn.InvokeURL))
	sm := secretsmanager.NewFromConfig(srv.AWSConfig(creds, ""))
	v := secret.Value{Engine: "generic", Password: "initial-value-0001"}
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("bench/account-mode"), SecretString: aws.String(v.StoredJSON())})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: out.ARN, RotationLambdaARN: aws.String(arnFn)}); err != nil {
		tb.Fatal(err)
	}
	if runs := srv.Rotations(aws.ToString(out.ARN)); len(runs) != 1 || runs[0].Outcome != localaws.Succeeded {
		tb.Fatalf("account-mode rotation: %+v\nfunction logs:\n%s", runs, fn.Logs())
	}
	return srv.Calls("GetCallerIdentity", "") + srv.Calls("AssumeRole", "")
}
