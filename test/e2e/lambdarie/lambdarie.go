// Package lambdarie builds Rotary's functions into real bootstrap binaries and
// runs them under the official AWS Lambda Runtime Interface Emulator (pinned as
// a tool in go.mod), for end-to-end tests, chaos runs, benchmarks and the demo.
//
// It is test infrastructure: production code must never import it. It only
// listens on loopback addresses.
package lambdarie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ModuleRoot returns the repository root (the directory holding go.mod).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the Rotary module")
	}
	return filepath.Dir(mod), nil
}

// BuildFunction builds functions/<name> for the host (linux, host
// architecture) the way the Makefile builds it for Lambda, into dir/<name>/bootstrap.
func BuildFunction(ctx context.Context, dir, name string) (string, error) {
	return BuildPackage(ctx, dir, name, "./functions/"+name)
}

// BuildPackage builds the main package pkg (a path relative to the module
// root, such as "./functions/internal/droptoken") like BuildFunction, into
// dir/<name>/bootstrap. Test-only functions are built with it.
func BuildPackage(ctx context.Context, dir, name, pkg string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", strings.TrimPrefix(pkg, "./"), err, b)
	}
	return out, nil
}

// BuildRIE builds the pinned Runtime Interface Emulator into dir.
func BuildRIE(ctx context.Context, dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "aws-lambda-rie")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the Lambda Runtime Interface Emulator: %w\n%s", err, b)
	}
	return out, nil
}

// Function is one bootstrap binary running under the RIE.
type Function struct {
	// InvokeURL is the RIE's invoke endpoint for this function.
	InvokeURL string
	// Started is when the RIE process was started (for cold-start timing).
	Started time.Time

	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

// Start runs bootstrap under the RIE binary rie with the given extra
// environment (KEY=VALUE) on free loopback ports, and waits until the RIE
// accepts connections. The function's process starts on the first invocation,
// as in Lambda.
func Start(ctx context.Context, rie, bootstrap string, env []string) (*Function, error) {
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	rieAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rie, "--log-level", "error",
		"--runtime-api-address", apiAddr,
		"--runtime-interface-emulator-address", rieAddr,
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	base := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"AWS_LAMBDA_FUNCTION_NAME=" + filepath.Base(filepath.Dir(bootstrap)),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	cmd.Env = append(base, env...)
	logs := &syncBuffer{}
	cmd.Stdout = logs
	cmd.Stderr = logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	f := &Function{InvokeURL: "http://" + rieAddr + "/2015-03-31/functions/function/invocations", cmd: cmd, logs: logs, done: make(chan struct{})}
	f.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the RIE: %w", err)
	}
	go func() {
		_ = cmd.Wait()
		close(f.done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", rieAddr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return f, nil
		}
		select {
		case <-f.done:
			return nil, fmt.Errorf("the RIE exited at start: %s", logs.String())
		case <-ctx.Done():
			f.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			f.Stop()
			return nil, fmt.Errorf("the RIE did not listen on %s within 20s", rieAddr)
		}
	}
}

// Logs returns everything the RIE and the function wrote (the function's
// JSON log lines and EMF records among them).
func (f *Function) Logs() string { return f.logs.String() }

// WaitLogs returns the function's output once done reports true for it, or
// as it is after timeout: the RIE relays the function's output on its own
// schedule, so lines written during an invocation may arrive after the
// invocation's answer.
func (f *Function) WaitLogs(timeout time.Duration, done func(logs string) bool) string {
	deadline := time.Now().Add(timeout)
	for {
		logs := f.Logs()
		if done(logs) || time.Now().After(deadline) {
			return logs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Follow calls fn with each complete line the RIE and the function write from
// now on, in order, until the returned stop is called. fn runs while output is
// being written, so it must be quick (print the line, send it on a buffered
// channel); it must not call the Function's methods.
func (f *Function) Follow(fn func(line string)) (stop func()) { return f.logs.follow(fn) }

// KillRuntime kills the function's process (not the RIE), as a crash or a
// timeout would: the step in progress never answers.
func (f *Function) KillRuntime() error {
	out, err := exec.Command("pkill", "-KILL", "-P", fmt.Sprint(f.cmd.Process.Pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kill the function process: %w: %s", err, out)
	}
	return nil
}

// Stop ends the RIE and the function (the whole process group).
func (f *Function) Stop() {
	if f.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

type syncBuffer struct {
	mu        sync.Mutex
	b         bytes.Buffer
	followers map[int]*follower
	next      int
}

type follower struct {
	fn  func(string)
	off int // first byte not yet passed to fn
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	all := s.b.Bytes()
	for _, f := range s.followers {
		for {
			i := bytes.IndexByte(all[f.off:], '\n')
			if i < 0 {
				break
			}
			f.fn(string(all[f.off : f.off+i]))
			f.off += i + 1
		}
	}
	return n, err
}

func (s *syncBuffer) follow(fn func(string)) (stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.followers == nil {
		s.followers = map[int]*follower{}
	}
	id := s.next
	s.next++
	s.followers[id] = &follower{fn: fn, off: s.b.Len()}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.followers, id)
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
