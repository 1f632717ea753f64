// Command localaws runs the Secrets Manager + STS emulator as a standalone
// server for demos and for application teams testing rotation functions
// locally.
//
//	go run ./test/localaws/cmd/localaws -addr 127.0.0.1:4566 \
//	    [-accounts accounts.json] [-function ARN=INVOKE_URL ...]
//
// It prints one JSON line on stdout with the endpoint and each account's
// credentials, then a human-readable summary, and serves until SIGINT or
// SIGTERM. It must not be deployed anywhere reachable by others: it checks no
// signatures and keeps everything in memory.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rotary-secrets/rotary/test/localaws"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "localaws:", err)
		os.Exit(1)
	}
}

// functionFlags collects repeated -function ARN=URL flags.
type functionFlags map[string]string

func (f functionFlags) String() string { return fmt.Sprint(map[string]string(f)) }

func (f functionFlags) Set(v string) error {
	arn, url, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(arn, "arn:") || !strings.HasPrefix(url, "http") {
		return errors.New("want ARN=URL, e.g. arn:aws:lambda:us-east-1:123456789012:function:rotator=http://127.0.0.1:9000/2015-03-31/functions/function/invocations")
	}
	f[arn] = url
	return nil
}

// accountsFile is the -accounts file.
type accountsFile struct {
	Accounts []struct {
		ID              string `json:"id"`
		AccessKeyID     string `json:"accessKeyId,omitempty"`
		SecretAccessKey string `json:"secretAccessKey,omitempty"`
	} `json:"accounts"`
	Roles []struct {
		Account         string   `json:"account"`
		Name            string   `json:"name"`
		Path            string   `json:"path,omitempty"`
		TrustedAccounts []string `json:"trustedAccounts"`
		ExternalID      string   `json:"externalId,omitempty"`
	} `json:"roles"`
}

// accountOut is one account in the startup line.
type accountOut struct {
	Account         string `json:"account"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// startup is the JSON line printed once the server listens.
type startup struct {
	Endpoint  string            `json:"endpoint"`
	Region    string            `json:"region"`
	Accounts  []accountOut      `json:"accounts"`
	Roles     []string          `json:"roles,omitempty"`
	Functions map[string]string `json:"functions,omitempty"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("localaws", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:4566", "listen address")
	region := fs.String("region", localaws.DefaultRegion, "region for requests without a SigV4 credential scope")
	accountsPath := fs.String("accounts", "", "JSON file with extra accounts and roles (see the README)")
	retries := fs.Int("rotation-retries", 0, "times a failed rotation is re-driven with the same token")
	async := fs.Bool("async-rotation", false, "answer RotateSecret before the steps run, as the service does")
	unknown := fs.Bool("allow-unknown-keys", false, "map unknown access keys to the default account instead of refusing them")
	seed := fs.Uint64("seed", 1, "seed for probabilistic faults")
	verify := fs.Bool("verify-signatures", false, "check every request's SigV4 signature against the key's secret")
	functions := functionFlags{}
	fs.Var(functions, "function", "ARN=INVOKE_URL of a rotation function (repeatable), e.g. the Lambda RIE's invoke URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s := localaws.New(localaws.Options{Region: *region, RotationRetries: *retries, AsyncRotation: *async, AllowUnknownKeys: *unknown, Seed: *seed, VerifySignatures: *verify})
	out := startup{Region: *region, Functions: functions}
	def := s.DefaultCredentials()
	out.Accounts = append(out.Accounts, accountOut{def.Account, def.AccessKeyID, def.SecretAccessKey})
	if *accountsPath != "" {
		if err := loadAccounts(s, *accountsPath, &out); err != nil {
			return err
		}
	}
	for arn, url := range functions {
		s.RegisterFunction(arn, localaws.HTTPFunction(url))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	out.Endpoint = "http://" + ln.Addr().String()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	line, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode startup line: %w", err)
	}
	fmt.Fprintf(stdout, "%s\n", line)
	fmt.Fprintf(stdout, "localaws: Secrets Manager + STS on %s (region %s)\n", out.Endpoint, *region)
	for _, a := range out.Accounts {
		fmt.Fprintf(stdout, "  account %s: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", a.Account, a.AccessKeyID, a.SecretAccessKey)
	}
	fmt.Fprintf(stdout, "  export AWS_ENDPOINT_URL=%s AWS_REGION=%s AWS_DEFAULT_REGION=%s\n", out.Endpoint, *region, *region)

	select {
	case <-ctx.Done():
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.WaitRotations()
	return nil
}

func loadAccounts(s *localaws.Server, path string, out *startup) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("accounts file: %w", err)
	}
	var f accountsFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("accounts file %s: %w", path, err)
	}
	for _, a := range f.Accounts {
		c := localaws.Credentials{Account: a.ID, AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey}
		if a.AccessKeyID == "" {
			if !validID(a.ID) {
				return fmt.Errorf("accounts file %s: account ID %q is not 12 digits", path, a.ID)
			}
			c = s.AddAccount(a.ID)
		} else if err := s.AddCredentials(c); err != nil {
			return fmt.Errorf("accounts file %s: %w", path, err)
		}
		out.Accounts = append(out.Accounts, accountOut{c.Account, c.AccessKeyID, c.SecretAccessKey})
	}
	for _, r := range f.Roles {
		if !validID(r.Account) || r.Name == "" {
			return fmt.Errorf("accounts file %s: role %q needs a 12-digit account and a name", path, r.Name)
		}
		arn := s.AddRole(localaws.Role{Account: r.Account, Name: r.Name, Path: r.Path, TrustedAccounts: r.TrustedAccounts, ExternalID: r.ExternalID})
		out.Roles = append(out.Roles, arn)
	}
	slices.Sort(out.Roles)
	return nil
}

// validID reports whether id is a 12-digit account ID.
func validID(id string) bool {
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
