package localaws_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// buildRIE builds testfn's bootstrap and the Lambda Runtime Interface
// Emulator (a go tool of this module) once per test binary.
var buildRIE = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "localaws-rie-")
	if err != nil {
		return "", err
	}
	rieDir.Store(&dir)
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/rotary-secrets/rotary/test/localaws/internal/testfn/bootstrap",
		"github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{string(out), err}
	}
	return dir, nil
})

// rieDir is removed by TestMain once every test ran.
var rieDir atomic.Pointer[string]

func TestMain(m *testing.M) {
	code := m.Run()
	if d := rieDir.Load(); d != nil {
		_ = os.RemoveAll(*d)
	}
	os.Exit(code)
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startRIE runs the bootstrap under the RIE with env, and returns the invoke
// URL once the RIE accepts connections.
func startRIE(t *testing.T, env ...string) string {
	t.Helper()
	dbtest.NeedsServers(t)
	dir, err := buildRIE()
	if err != nil {
		t.Fatalf("building the Lambda Runtime Interface Emulator and the test function: %v", err)
	}
	invokeAddr, apiAddr := freePort(t), freePort(t)
	cmd := exec.Command(filepath.Join(dir, "aws-lambda-rie"),
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", apiAddr,
		filepath.Join(dir, "bootstrap"))
	cmd.Env = append(os.Environ(), env...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start aws-lambda-rie: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("aws-lambda-rie output:\n%s", logs.String())
		}
	})
	// The RIE prints nothing once it listens: poll the port, with a deadline.
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", invokeAddr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-lambda-rie did not listen on %s within 20s: %v", invokeAddr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + invokeAddr + "/2015-03-31/functions/function/invocations"
}

// TestRotateSecretOverRIE runs the RotateSecret flow against a real Lambda
// binary under the Runtime Interface Emulator, through HTTPFunction.
func TestRotateSecretOverRIE(t *testing.T) {
	tests := []struct {
		name     string
		failStep string
		want     localaws.Outcome
		steps    []string
	}{
		{"success", "", localaws.Succeeded, []string{"1:createSecret", "1:setSecret", "1:testSecret", "1:finishSecret"}},
		{"function error", localaws.StepSet, localaws.Failed, []string{"1:createSecret", "1:setSecret failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := localaws.Start(t, localaws.Options{VerifySignatures: true})
			creds := s.DefaultCredentials()
			c := smClient(s, creds)
			arn := aws.ToString(mustCreate(t, c, "rie/db", `{"password":"old"}`).ARN)
			url := startRIE(t,
				"AWS_ENDPOINT_URL="+s.URL, "AWS_REGION="+region,
				"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
				"AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
				"AWS_EC2_METADATA_DISABLED=true", "FAIL_STEP="+tt.failStep)
			s.RegisterFunction(fnARN, localaws.HTTPFunction(url))
			if _, err := rotate(t, c, arn, token("r1")); err != nil {
				t.Fatalf("RotateSecret: %v", err)
			}
			runs := s.Rotations(arn)
			if len(runs) != 1 || runs[0].Outcome != tt.want {
				t.Fatalf("runs = %+v, want one %s", runs, tt.want)
			}
			if got := stepsOf(runs[0]); strings.Join(got, ",") != strings.Join(tt.steps, ",") {
				t.Errorf("steps = %v, want %v", got, tt.steps)
			}
			if tt.failStep != "" && !strings.Contains(runs[0].Error, "failed on purpose") {
				t.Errorf("failure %q does not carry the function's errorMessage", runs[0].Error)
			}
			want := "AWSPENDING"
			if tt.want == localaws.Succeeded {
				want = "AWSCURRENT"
			}
			if stages := stagesOf(t, c, arn); !slices.Equal(stages[token("r1")], []string{want}) {
				t.Errorf("stages after the run: %v, want the token's version %s", stages, want)
			}
		})
	}
}

// TestConcurrentRotationsOverOneRIE: the RIE runs one invocation at a time;
// HTTPFunction serialises invocations per URL so concurrent rotations that
// share a function all complete.
func TestConcurrentRotationsOverOneRIE(t *testing.T) {
	s := localaws.Start(t)
	creds := s.DefaultCredentials()
	c := smClient(s, creds)
	url := startRIE(t,
		"AWS_ENDPOINT_URL="+s.URL, "AWS_REGION="+region,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true", "FAIL_STEP=")
	s.RegisterFunction(fnARN, localaws.HTTPFunction(url))
	var arns []string
	for i := range 3 {
		arns = append(arns, aws.ToString(mustCreate(t, c, "rie/concurrent-"+string(rune('a'+i)), `{"password":"old"}`).ARN))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(arns))
	for _, arn := range arns {
		wg.Go(func() {
			_, err := c.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(fnARN)})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("RotateSecret: %v", err)
		}
	}
	for _, arn := range arns {
		if runs := s.Rotations(arn); len(runs) != 1 || runs[0].Outcome != localaws.Succeeded {
			t.Errorf("%s: runs %+v", arn, runs)
		}
	}
}
