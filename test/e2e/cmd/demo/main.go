// Command demo is `make demo`: one narrated run of Rotary on this machine, for
// a new user. It checks the tools it needs, starts throwaway PostgreSQL,
// MariaDB, OpenLDAP and Redis servers, a local AWS (Secrets Manager, STS, the
// ElastiCache user API backed by the redis-server, IAM access keys;
// test/localaws) with a central account and two member accounts, and the
// central function built from functions/central running under the official
// Lambda Runtime Interface Emulator. It creates users (database, directory,
// cache, ElastiCache and IAM users) and their secrets in the member accounts,
// rotates each one through Secrets Manager's RotateSecret (which invokes the
// function over HTTP, as AWS does), shows every step's log line as the
// function writes it, checks each result with a real login (for the IAM key,
// sts:GetCallerIdentity signed with it), and prints a table. Everything it started is stopped and removed at the end,
// also on failure or Ctrl-C. The exit status is 1 when any check fails.
//
// Everything listens on 127.0.0.1. No password or RotationToken is printed:
// log lines are shown field by field from the function's JSON logs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/test/e2e/lambdarie"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

func main() {
	os.Exit(demo())
}

// out serialises everything printed: the narration and the function's log
// lines arrive from different goroutines.
var out = &printer{}

type printer struct{ mu sync.Mutex }

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Printf(format, args...)
}

// interrupted is set when Ctrl-C (or SIGTERM) arrives; errors that follow
// are its consequences and are not reported.
var interrupted atomic.Bool

// cleanups is the stack of things to undo, run last first, exactly once.
type cleanups struct {
	mu   sync.Mutex
	fns  []namedCleanup
	done bool
}

type namedCleanup struct {
	what string
	fn   func()
}

func (c *cleanups) add(what string, fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, namedCleanup{what, fn})
}

func (c *cleanups) run() {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	fns := c.fns
	c.mu.Unlock()
	if len(fns) == 0 {
		return
	}
	out.printf("\nCleaning up\n")
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i].fn()
		out.printf("  ✓ %s\n", fns[i].what)
	}
}

func demo() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var undo cleanups
	defer undo.run()

	result := make(chan int, 1)
	go func() { result <- run(ctx, &undo) }()
	select {
	case code := <-result:
		return code
	case <-ctx.Done():
		interrupted.Store(true)
		stop() // a second Ctrl-C ends the program at once
		out.printf("\nInterrupted: stopping everything the demo started…\n")
		select {
		case <-result:
		case <-time.After(10 * time.Second):
		}
		undo.run()
		return 130
	}
}

func run(ctx context.Context, undo *cleanups) int {
	start := time.Now()
	out.printf("Rotary demo: rotate real PostgreSQL, MariaDB, OpenLDAP and Redis credentials, an ElastiCache user's password\n")
	out.printf("and an IAM access key across AWS accounts, on this machine.\n")
	out.printf("Nothing here talks to AWS or the internet: Secrets Manager, STS, ElastiCache and IAM are emulated on 127.0.0.1.\n\n")

	out.printf("Step 1/7  Checking the tools the demo needs\n")
	if missing := checkTools(); len(missing) > 0 {
		out.printf("\nMissing:\n")
		for _, m := range missing {
			out.printf("  ✗ %s\n", m)
		}
		out.printf("Install what is listed above, then run `make demo` again.\n")
		return 1
	}

	dir, err := os.MkdirTemp("", "rotary-demo-")
	if err != nil {
		return fail(err)
	}
	undo.add("removed "+dir, func() { _ = os.RemoveAll(dir) })

	out.printf("\nStep 2/7  Building functions/central and the Lambda Runtime Interface Emulator for this machine\n")
	out.printf("          (the first run compiles everything; this can take a minute or two)\n")
	var rieBin, central string
	var pg rig.Postgres
	var maria rig.MariaDB
	var dir389 rig.LDAP
	var cache rig.Redis
	var buildErr, pgErr, mariaErr, ldapErr, redisErr error
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Go(func() {
		rieBin, buildErr = lambdarie.BuildRIE(ctx, dir)
		if buildErr == nil {
			central, buildErr = lambdarie.BuildFunction(ctx, dir, "central")
		}
	})
	// The database servers start while the Go build runs.
	wg.Go(func() {
		var stopPG func()
		pg, stopPG, pgErr = rig.StartPostgres(ctx)
		undo.add("stopped PostgreSQL and removed its data directory", stopPG)
	})
	wg.Go(func() {
		var stopMaria func()
		maria, stopMaria, mariaErr = rig.StartMariaDB(ctx)
		undo.add("stopped MariaDB and removed its data directory", stopMaria)
	})
	wg.Go(func() {
		var stopLDAP func()
		dir389, stopLDAP, ldapErr = rig.StartLDAP(ctx)
		undo.add("stopped slapd and removed its data directory", stopLDAP)
	})
	wg.Go(func() {
		var stopRedis func()
		cache, stopRedis, redisErr = rig.StartRedis(ctx)
		undo.add("stopped redis-server and removed its data directory", stopRedis)
	})
	wg.Wait()
	if err := errors.Join(buildErr, pgErr, mariaErr, ldapErr, redisErr); err != nil {
		return fail(err)
	}
	out.printf("  ✓ built %s and the RIE in %s\n", rel(central, dir), time.Since(t0).Round(time.Second))

	out.printf("\nStep 3/7  Throwaway database servers (password authentication enforced, TLS from a fresh CA)\n")
	out.printf("  ✓ PostgreSQL on %s — %s; a wrong password is refused\n", pg.Addr(), pg.DB.Version)
	out.printf("  ✓ MariaDB    on %s — %s; a wrong password is refused\n", maria.Addr(), maria.DB.Version)
	out.printf("  ✓ OpenLDAP   on %s — slapd, LDAPS; a wrong password is refused\n", dir389.Addr())
	out.printf("  ✓ Redis      on %s — redis-server, TLS, ACL users; a wrong password is refused\n", cache.Addr())
	bundle := filepath.Join(dir, "ca-bundle.pem")
	if err := rig.WriteCABundle(bundle, pg, maria, dir389, cache); err != nil {
		return fail(err)
	}

	out.printf("\nStep 4/7  Local AWS with three accounts, and the central function under the RIE\n")
	w := rig.NewWorld(localaws.Options{VerifySignatures: true}) // the IAM key case: a wrong secretAccessKey is refused
	undo.add("stopped the central function (RIE) and local AWS", w.Close)
	out.printf("  ✓ local AWS (Secrets Manager, STS, ElastiCache users backed by the redis-server, IAM) on %s\n", w.URL)
	out.printf("      %s  central account: the function's home\n", rig.CentralAccount)
	out.printf("      %s  member A: role %s trusts the central account, with an ExternalId\n", rig.MemberA, rig.RoleName)
	out.printf("      %s  member B: role %s trusts the central account, with an ExternalId\n", rig.MemberB, rig.RoleName)
	fn, err := w.StartFunction(ctx, rieBin, central, rig.CentralConfig(bundle))
	if err != nil {
		return fail(err)
	}
	out.printf("  ✓ %s under the RIE at %s\n", fn.ARN, fn.InvokeURL)
	out.printf("      ROTARY_MODE=central ROTARY_ALLOWED_ACCOUNTS=%s,%s ROTARY_ROLE_NAME=%s\n", rig.MemberA, rig.MemberB, rig.RoleName)

	out.printf("\nStep 5/7  Creating users and their secrets in the member accounts\n")
	out.printf("          (tagged as the shipped IAM requires: %s=%s on each secret, %s=%s on each master;\n", rig.TagRotate, rig.TagRotateValue, rig.TagRole, rig.RoleMaster)
	out.printf("           the ElastiCache and IAM users carry %s=%s and %s=<their secret's name>,\n", rig.TagRotate, rig.TagRotateValue, rig.TagSecret)
	out.printf("           the IAM user (global to its account) %s=<its secret's full ARN>)\n", rig.TagSecret)
	cases := append(rig.CentralCases(pg, maria),
		rig.Case{Name: "directory/ldap-single", Account: rig.MemberA, Target: dir389, Strategy: rotators.SingleUser},
		rig.Case{Name: "cache/redis-single", Account: rig.MemberB, Target: cache, Strategy: rotators.SingleUser})
	// The ElastiCache user (its passwords land on the same redis-server) is
	// tagged rotary:secret=<its secret's name>, the IAM user <its secret's
	// full ARN> once Provision stored it: the engines rotate only the user
	// given to the secret.
	cases = append(cases, rig.DemoAPICases(w, cache)...)
	var secrets []*rig.Secret
	for _, c := range cases {
		s, err := w.Provision(ctx, c)
		if err != nil {
			return fail(err)
		}
		secrets = append(secrets, s)
		extra := ""
		if c.Strategy == rotators.AlternatingUsers {
			extra = fmt.Sprintf(" (master user's secret %s-master)", c.Name)
		}
		out.printf("  ✓ %-24s account %s  %-14s %-17s user %s%s\n", c.Name, c.Account, c.Target.Engine(), c.Strategy, s.User, extra)
	}

	out.printf("\nStep 6/7  Rotating each secret: RotateSecret → the central function (createSecret, setSecret, testSecret, finishSecret)\n")
	stopFollow := fn.Follow(showLogLine)
	defer stopFollow()
	var rows []row
	failed := 0
	for _, s := range secrets {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		out.printf("\n  ▶ %s (%s, %s) in account %s\n", s.Name, s.Target.Engine(), s.Strategy, s.Account)
		r, err := w.Rotate(ctx, s, fn)
		if err != nil {
			return fail(err)
		}
		c := w.Verify(ctx, s, r)
		rows = append(rows, row{s, c})
		if !c.OK() {
			failed++
			for _, p := range c.Problems {
				out.printf("    ✗ %s\n", p)
			}
			continue
		}
		out.printf("    ✓ stages moved: the new version is AWSCURRENT, the old one AWSPREVIOUS\n")
		out.printf("    ✓ the new credential (%s) logs in\n", c.NewUser)
		if c.OldKept {
			out.printf("    ✓ the previous credential (%s, AWSPREVIOUS) still logs in until the next rotation\n", c.OldUser)
		} else {
			out.printf("    ✓ the old password of %s is refused by %s\n", c.OldUser, s.Target.Engine())
		}
	}
	stopFollow()
	n := w.AWS.Calls("AssumeRole", rig.CentralAccount)
	out.printf("\n  STS AssumeRole calls by the central function: %d (one per member account: %s in member A and B, with the ExternalId; the credentials stay cached in the warm function)\n", n, rig.RoleName)
	if n != 2 {
		failed++
		out.printf("  ✗ want 2 AssumeRole calls, one per member account\n")
	}
	logs := fn.Logs()
	leaks := []error{fn.FindTokenLeak("the function's logs", logs)}
	for _, s := range secrets {
		leaks = append(leaks, s.FindLeak("the function's logs", logs))
	}
	if err := errors.Join(leaks...); err != nil {
		failed++
		out.printf("  ✗ %v\n", err)
	} else {
		out.printf("  No password and none of the %d RotationTokens appears in the function's logs.\n", fn.TokensSeen())
	}
	// Every request the function made (session names included) is free of
	// RotationTokens: STS sessions are named after the ClientRequestToken.
	if err := fn.FindTokenInRequests("local AWS's request log", w.AWS.RequestLog()); err != nil {
		failed++
		out.printf("  ✗ %v\n", err)
	} else {
		out.printf("  No RotationToken appears in local AWS's request log (STS session names included).\n")
	}

	out.printf("\nResult\n\n")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SECRET\tACCOUNT\tENGINE\tSTRATEGY\tOLD CREDENTIAL\tNEW CREDENTIAL\tRESULT")
	for _, r := range rows {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.s.Name, r.s.Account, r.s.Target.Engine(), r.s.Strategy, r.old(), r.new(), r.result())
	}
	out.mu.Lock()
	_ = tw.Flush()
	out.mu.Unlock()
	auditFailed, err := auditFleet(ctx, w, fn)
	if err != nil {
		return fail(err)
	}
	failed += auditFailed
	out.printf("\n")
	if failed > 0 {
		out.printf("✗ %d check(s) failed (see above). Total time %s.\n", failed, time.Since(start).Round(time.Second))
		return 1
	}
	out.printf("✓ Every credential was rotated across accounts and verified against its database, and the audit found the planted stuck rotation and the secret without rotation. Total time %s.\n", time.Since(start).Round(time.Second))
	return 0
}

type row struct {
	s *rig.Secret
	c rig.Check
}

func (r row) old() string {
	switch {
	case r.c.OldRejected:
		return "rejected"
	case r.c.OldKept:
		return "kept (" + r.c.OldUser + ")"
	case r.s.Strategy == rotators.AlternatingUsers:
		return "NOT KEPT"
	default:
		return "NOT REJECTED"
	}
}

func (r row) new() string {
	if r.c.NewWorks {
		return "works (" + r.c.NewUser + ")"
	}
	return "FAILS"
}

func (r row) result() string {
	if r.c.OK() {
		return "✓"
	}
	return "✗"
}

func fail(err error) int {
	if errors.Is(err, context.Canceled) || interrupted.Load() {
		return 130 // demo() says so and cleans up
	}
	out.printf("\n✗ %v\n", err)
	return 1
}

func rel(path, dir string) string {
	if r, err := filepath.Rel(dir, path); err == nil {
		return r
	}
	return path
}

// showLogLine prints one of the function's JSON log lines, field by field:
// never the raw line, so nothing unexpected is shown. Lines that are not
// the engine's step lines (the RIE's START/END/REPORT, EMF metrics) are
// skipped.
func showLogLine(line string) {
	var l struct {
		Timestamp  time.Time `json:"timestamp"`
		Level      string    `json:"level"`
		Message    string    `json:"message"`
		Step       string    `json:"step"`
		Account    string    `json:"account"`
		Outcome    string    `json:"outcome"`
		DurationMs *float64  `json:"durationMs"`
		Error      string    `json:"error"`
	}
	i := strings.IndexByte(line, '{')
	if i < 0 || json.Unmarshal([]byte(line[i:]), &l) != nil || l.Message == "" {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "    │ %s %-5s %-13s %s", l.Timestamp.Local().Format("15:04:05.000"), l.Level, l.Step, l.Message)
	if l.Account != "" {
		fmt.Fprintf(&b, " account=%s", l.Account)
	}
	if l.Outcome != "" {
		fmt.Fprintf(&b, " outcome=%q", l.Outcome)
	}
	if l.DurationMs != nil {
		fmt.Fprintf(&b, " %.1fms", *l.DurationMs)
	}
	if l.Error != "" {
		fmt.Fprintf(&b, "\n    │   error: %s", l.Error)
	}
	out.printf("%s\n", b.String())
}

// checkTools returns what is missing, each with how to install it. It looks
// where test/dbtest looks.
func checkTools() []string {
	var missing []string
	found := func(what, path string) { out.printf("  ✓ %-19s %s\n", what, path) }
	if p, err := exec.LookPath("go"); err == nil {
		found("go", p)
	} else {
		missing = append(missing, "go — install Go 1.26 (https://go.dev/dl); it builds the function and the RIE")
	}
	if initdb := findInitdb(); initdb != "" {
		found("initdb", initdb)
		if _, err := os.Stat(filepath.Join(filepath.Dir(initdb), "postgres")); err == nil {
			found("postgres", filepath.Join(filepath.Dir(initdb), "postgres"))
		} else {
			missing = append(missing, "postgres (the server binary beside "+initdb+") — apt-get install postgresql")
		}
	} else {
		missing = append(missing, "initdb and postgres (PostgreSQL server, looked for in PATH, /usr/local/bin and /usr/lib/postgresql/*/bin) — apt-get install postgresql")
	}
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("postgres"); err != nil {
			missing = append(missing, "a 'postgres' system user (PostgreSQL refuses to run as root, and you are root) — apt-get install postgresql creates it, or: useradd --system postgres")
		}
	}
	for _, b := range []string{"mariadb-install-db", "mariadbd"} {
		if p, err := exec.LookPath(b); err == nil {
			found(b, p)
		} else {
			missing = append(missing, b+" (MariaDB server) — apt-get install mariadb-server")
		}
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		found("redis-server", p)
	} else {
		missing = append(missing, "redis-server (Redis server) — apt-get install redis-server")
	}
	return missing
}

func findInitdb() string {
	candidates := []string{}
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/local/bin/initdb")
	more, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	candidates = append(candidates, more...)
	for _, c := range candidates {
		if real, err := filepath.EvalSymlinks(c); err == nil {
			return real
		}
	}
	return ""
}
