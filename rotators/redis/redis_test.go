package redis

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

func testConfig(t testing.TB, srv *dbtest.Redis) Config {
	t.Helper()
	pem, err := os.ReadFile(srv.CA.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return Config{Passwords: password.Default(""), RootCAs: pool}
}

// newTestUser creates a fresh ACL user on srv and returns its secret value.
func newTestUser(t testing.TB, srv *dbtest.Redis, prefix string) secret.Value {
	t.Helper()
	user := prefix + "_" + rotationtest.NewToken()[:8]
	pw := "initial-" + rotationtest.NewToken()[:16]
	srv.CreateUser(t, user, pw)
	return secret.Value{Engine: Engine, Host: srv.Host, Port: srv.Port, Username: user, Password: pw}
}

func load(v secret.Value, ok bool) rotators.Loader {
	return func(context.Context) (secret.Value, bool, error) { return v, ok, nil }
}

// rotate runs one rotation's steps directly, returning the pending value; at
// each step it checks what must log in.
func rotate(t *testing.T, r *Rotator, srv *dbtest.Redis, current, previous secret.Value, hasPrev bool) secret.Value {
	t.Helper()
	ctx := t.Context()
	cr, err := r.Create(ctx, rotators.CreateRequest{Current: current, Passwords: password.Local{}, Previous: load(previous, hasPrev)})
	if err != nil {
		t.Fatal(err)
	}
	pending := cr.Pending
	for range 2 { // each step twice
		if _, err := r.Set(ctx, rotators.SetRequest{Current: current, Pending: pending, Previous: load(previous, hasPrev)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []secret.Value{current, pending} {
		if err := srv.Login(ctx, v.Username, v.Password); err != nil {
			t.Fatalf("after setSecret a version does not log in: %v", err)
		}
	}
	if _, err := r.Test(ctx, rotators.TestRequest{Pending: pending, Current: load(current, true)}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := r.Finish(ctx, rotators.FinishRequest{Pending: load(pending, true), Current: load(current, true), Previous: load(previous, hasPrev)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []secret.Value{current, pending} {
		if err := srv.Login(ctx, v.Username, v.Password); err != nil {
			t.Fatalf("after finishSecret the new current or previous does not log in: %v", err)
		}
	}
	if hasPrev && previous.Password != current.Password {
		if err := srv.Login(ctx, previous.Username, previous.Password); err == nil {
			t.Fatal("the password AWSPREVIOUS held before the rotation still logs in")
		}
	}
	return pending
}

// TestOverlap: three rotations; the user holds the current and pending
// passwords throughout and exactly two at rest; the ACL file holds hashes,
// never a cleartext password.
func TestOverlap(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	r := New(testConfig(t, srv))
	cur := newTestUser(t, srv, "overlap")
	var prev secret.Value
	hasPrev := false
	for i := range 3 {
		next := rotate(t, r, srv, cur, prev, hasPrev)
		if n := srv.Passwords(t, cur.Username); n != 2 {
			t.Fatalf("rotation %d: user holds %d passwords at rest, want 2", i, n)
		}
		acl := srv.ACLFileText(t)
		if strings.Contains(acl, next.Password) || strings.Contains(acl, cur.Password) {
			t.Fatal("the ACL file holds a cleartext password")
		}
		if !strings.Contains(acl, "#"+hashOf(next.Password)) {
			t.Fatal("ACL SAVE did not write the new password's hash to the ACL file")
		}
		prev, cur, hasPrev = cur, next, true
	}
	if s := r.Stats(); s.FailedLogins != 0 {
		t.Fatalf("failed logins: %d", s.FailedLogins)
	}
}

// TestNoACLFile: a server without an ACL file refuses ACL SAVE; the rotation
// still works (the note is in the README).
func TestNoACLFile(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, false)
	r := New(testConfig(t, srv))
	cur := newTestUser(t, srv, "nofile")
	rotate(t, r, srv, cur, secret.Value{}, false)
}

// TestTLSNoFallback: an untrusted certificate, a host name the certificate
// does not name and a cleartext port all fail; nothing falls back to
// cleartext.
func TestTLSNoFallback(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	cur := newTestUser(t, srv, "tls")
	ctx := t.Context()
	req := func(v secret.Value) rotators.SetRequest {
		p := v.Clone()
		p.Password = "pending-" + rotationtest.NewToken()[:16]
		return rotators.SetRequest{Current: v, Pending: p, Previous: load(secret.Value{}, false)}
	}
	untrusted := New(Config{Passwords: password.Default("")}) // system roots only
	if _, err := untrusted.Set(ctx, req(cur)); err == nil {
		t.Fatal("setSecret trusted a certificate from an unknown CA")
	}
	r := New(testConfig(t, srv))
	plain := cur.Clone()
	plain.Port = srv.PlainPort
	if _, err := r.Set(ctx, req(plain)); err == nil {
		t.Fatal("setSecret logged in over cleartext without ssl=false")
	}
	if n := srv.Passwords(t, cur.Username); n != 1 {
		t.Fatalf("user holds %d passwords after refused rotations, want 1", n)
	}
}

// TestHostileUsername: a user name that is not a plain ACL user name is
// refused before anything is sent.
func TestHostileUsername(t *testing.T) {
	r := New(Config{Passwords: password.Default("")})
	for _, name := range []string{"", "a b", "a'b", `a"b`, "a\x00b", "a\nb", "x reset", "on >pw", "~*", "+@all", "../etc", strings.Repeat("a", 300), "*", "a,b"} {
		v := secret.Value{Engine: Engine, Host: "127.0.0.1", Port: 1, Username: name, Password: "x"}
		_, err := r.Set(t.Context(), rotators.SetRequest{Current: v, Pending: v, Previous: load(secret.Value{}, false)})
		if !errors.Is(err, ErrBadUsername) {
			t.Errorf("user name %q: err %v, want ErrBadUsername", name, err)
		}
	}
	if s := r.Stats(); s.Logins != 0 {
		t.Fatalf("%d logins for hostile names", s.Logins)
	}
}

// TestPendingOtherUserRefused: a pending version naming another user or
// server is refused and changes nothing.
func TestPendingOtherUserRefused(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	r := New(testConfig(t, srv))
	cur := newTestUser(t, srv, "own")
	other := newTestUser(t, srv, "other")
	p := other.Clone()
	p.Password = "pending-" + rotationtest.NewToken()[:16]
	_, err := r.Set(t.Context(), rotators.SetRequest{Current: cur, Pending: p, Previous: load(secret.Value{}, false)})
	if !errors.Is(err, ErrBadEndpoint) {
		t.Fatalf("err %v, want ErrBadEndpoint", err)
	}
	if srv.Passwords(t, other.Username) != 1 || srv.Passwords(t, cur.Username) != 1 {
		t.Fatal("a refused rotation changed a user")
	}
}

// TestCleanRedactsHashes: an ACL error quoting a password hash loses it.
func TestCleanRedactsHashes(t *testing.T) {
	h := hashOf("some-password")
	err := clean(errors.New("ERR Error in ACL SETUSER modifier '#" + h + "': Syntax error"))
	if strings.Contains(err.Error(), h) || !strings.Contains(err.Error(), "<sha256>") {
		t.Fatalf("clean kept the hash: %v", err)
	}
	if clean(nil) != nil {
		t.Fatal("clean(nil) is not nil")
	}
}

// TestNoCleartextOnTheWire: a proxy on the server's cleartext port sees
// every byte setSecret sends. The pending password never passes (ACL SETUSER
// carries its hash; AUTH carries only the current one), and the hash does
// (positive control: the proxy sees the traffic). MONITOR cannot show this:
// Redis keeps ACL and AUTH out of it.
func TestNoCleartextOnTheWire(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	proxy := dbtest.NewFaultProxy(t, net.JoinHostPort(srv.Host, strconv.Itoa(srv.PlainPort)))
	r := New(testConfig(t, srv))
	cur := newTestUser(t, srv, "wire")
	host, port, _ := net.SplitHostPort(proxy.Addr)
	cur.Host = host
	cur.Port, _ = strconv.Atoi(port)
	off := false
	cur.SSL = &off
	set := func(c secret.Value) secret.Value {
		p := c.Clone()
		p.Password = "pending-" + rotationtest.NewToken()[:16]
		return p
	}
	p1 := set(cur)
	cleartext := proxy.Arm(p1.Password, dbtest.After, func() {})
	if _, err := r.Set(t.Context(), rotators.SetRequest{Current: cur, Pending: p1, Previous: load(secret.Value{}, false)}); err != nil {
		t.Fatal(err)
	}
	if cleartext() != 0 {
		t.Fatal("setSecret sent the pending password in cleartext")
	}
	p2 := set(cur)
	hash := proxy.Arm("#"+hashOf(p2.Password), dbtest.After, func() {})
	if _, err := r.Set(t.Context(), rotators.SetRequest{Current: cur, Pending: p2, Previous: load(secret.Value{}, false)}); err != nil {
		t.Fatal(err)
	}
	if hash() != 1 {
		t.Fatal("the proxy did not see ACL SETUSER #<hash>: the control failed")
	}
}

// TestDeadlineHonoured: a server that accepts and never answers ends the
// step with the context's deadline, not after the connect timeout.
func TestDeadlineHonoured(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	r := New(Config{Passwords: password.Default(""), ConnectTimeout: 10 * time.Minute})
	v := secret.Value{Engine: Engine, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Username: "app", Password: "p-" + rotationtest.NewToken()[:12]}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = r.Test(ctx, rotators.TestRequest{Pending: v, Current: load(v, true)})
	if err == nil {
		t.Fatal("testSecret succeeded against a silent server")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") && !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("err %v, want the step deadline", err)
	}
	if strings.Contains(err.Error(), v.Password) {
		t.Fatal("the error holds the password")
	}
}

// TestDropAfterSetUser: the connection drops after ACL SETUSER reached the
// server, before its answer. setSecret fails; its retry finds the password
// already held, adds nothing, and the rotation completes with both passwords
// working and the user holding exactly two.
func TestDropAfterSetUser(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	proxy := dbtest.NewFaultProxy(t, net.JoinHostPort(srv.Host, strconv.Itoa(srv.PlainPort)))
	r := New(testConfig(t, srv))
	cur := newTestUser(t, srv, "drop")
	host, port, _ := net.SplitHostPort(proxy.Addr)
	cur.Host = host
	cur.Port, _ = strconv.Atoi(port)
	off := false
	cur.SSL = &off
	pending := cur.Clone()
	pending.Password = "pending-" + rotationtest.NewToken()[:16]
	req := rotators.SetRequest{Current: cur, Pending: pending, Previous: load(secret.Value{}, false)}
	fired := proxy.Arm("#"+hashOf(pending.Password), dbtest.After, nil)
	if _, err := r.Set(t.Context(), req); err == nil {
		t.Fatal("setSecret succeeded although its connection was dropped")
	}
	if fired() != 1 {
		t.Fatal("the fault did not fire")
	}
	if _, err := r.Set(t.Context(), req); err != nil {
		t.Fatalf("retried setSecret: %v", err)
	}
	if n := srv.Passwords(t, cur.Username); n != 2 {
		t.Fatalf("user holds %d passwords, want 2", n)
	}
	if _, err := r.Test(t.Context(), rotators.TestRequest{Pending: pending, Current: load(cur, true)}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Login(t.Context(), cur.Username, cur.Password); err != nil {
		t.Fatalf("the current password stopped working: %v", err)
	}
}

// fakeWhoAmI serves RESP2 on 127.0.0.1: +OK to every command but ACL WHOAMI,
// which gets who as a bulk string. It plays a hostile server.
func fakeWhoAmI(t *testing.T, who string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rd := bufio.NewReader(c)
				for {
					args, err := readCommand(rd)
					if err != nil {
						return
					}
					reply := "+OK\r\n"
					if len(args) == 2 && strings.EqualFold(args[0], "ACL") && strings.EqualFold(args[1], "WHOAMI") {
						reply = "$" + strconv.Itoa(len(who)) + "\r\n" + who + "\r\n"
					}
					if len(args) > 0 && strings.EqualFold(args[0], "HELLO") {
						reply = "*0\r\n"
					}
					if _, err := c.Write([]byte(reply)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// readCommand reads one RESP array of bulk strings.
func readCommand(rd *bufio.Reader) ([]string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil {
		return nil, err
	}
	args := make([]string, 0, n)
	for range n {
		hdr, err := rd.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(hdr, "$")))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		args = append(args, string(buf[:size]))
	}
	return args, nil
}

// TestHostileWhoAmI: a server answering ACL WHOAMI with another user is
// refused (ErrNotOwner), and its answer reaches the error only when it is a
// plain user name that is no part of the password: never huge, never with
// control characters, never the password (or part of it) echoed back.
func TestHostileWhoAmI(t *testing.T) {
	pw := "Pw-" + rotationtest.NewToken()[:20]
	cases := []struct {
		who  string
		show bool
	}{
		{"someone_else", true},
		{strings.Repeat("A", 1<<20), false},
		{"evil\r\nlevel=ERROR msg=forged\x1b[31m", false},
		{pw, false},
		{pw[:12], false},
		{"x" + pw + "y", false},
	}
	off := false
	r := New(Config{Passwords: password.Default("")})
	for i, c := range cases {
		port := fakeWhoAmI(t, c.who)
		v := secret.Value{Engine: Engine, Host: "127.0.0.1", Port: port, Username: "app", Password: pw, SSL: &off}
		_, err := r.Test(t.Context(), rotators.TestRequest{Pending: v, Current: load(v, true)})
		if !errors.Is(err, ErrNotOwner) {
			t.Fatalf("case %d: err %v, want ErrNotOwner", i, err)
		}
		msg := err.Error()
		if len(msg) > 400 {
			t.Errorf("case %d: error is %d bytes long", i, len(msg))
		}
		if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("case %d: error holds control characters: %q", i, msg)
		}
		if strings.Contains(msg, pw[:12]) {
			t.Errorf("case %d: error holds (part of) the password", i)
		}
		if got := strings.Contains(msg, strconv.Quote(c.who)); got != c.show {
			t.Errorf("case %d: answer shown %v, want %v: %s", i, got, c.show, msg[:min(len(msg), 200)])
		}
	}
}

// counted is a loader of v that counts its reads.
func counted(v secret.Value, ok bool, n *int) rotators.Loader {
	return func(context.Context) (secret.Value, bool, error) { *n++; return v, ok, nil }
}

// steps runs setSecret, testSecret and finishSecret of one rotation from
// current (with previous) to pending and returns how many times the steps
// read the current and previous versions through their loaders.
func steps(t *testing.T, r *Rotator, current, pending, previous secret.Value, hasPrev bool) (reads int) {
	t.Helper()
	ctx := t.Context()
	if _, err := r.Set(ctx, rotators.SetRequest{Current: current, Pending: pending, Previous: counted(previous, hasPrev, &reads)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Test(ctx, rotators.TestRequest{Pending: pending, Current: counted(current, true, &reads)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Finish(ctx, rotators.FinishRequest{Pending: load(pending, true), Current: counted(current, true, &reads), Previous: counted(previous, hasPrev, &reads)}); err != nil {
		t.Fatal(err)
	}
	return reads
}

// TestFinishReadsNoOtherVersion: from a secret's second rotation on, the
// pending value records the password to retire, so setSecret, testSecret
// and finishSecret read no other version (the Secrets Manager budget), and
// AWSPREVIOUS's old password is still removed while the current one stays.
func TestFinishReadsNoOtherVersion(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	r := New(testConfig(t, srv))
	cur := newTestUser(t, srv, "reads")
	var prev secret.Value
	hasPrev := false
	for i := range 3 {
		cr, err := r.Create(t.Context(), rotators.CreateRequest{Current: cur, Passwords: password.Local{}, Previous: load(prev, hasPrev)})
		if err != nil {
			t.Fatal(err)
		}
		next := cr.Pending
		if h, _ := next.Get(KeyReplacesSHA256); h != hashOf(cur.Password) {
			t.Fatalf("rotation %d: pending does not record the password it replaces", i)
		}
		reads := steps(t, r, cur, next, prev, hasPrev)
		if i > 0 && reads != 0 {
			t.Fatalf("rotation %d: the steps read other versions %d times, want 0", i, reads)
		}
		if n := srv.Passwords(t, cur.Username); n != 2 {
			t.Fatalf("rotation %d: user holds %d passwords at rest, want 2", i, n)
		}
		if hasPrev && srv.Login(t.Context(), prev.Username, prev.Password) == nil {
			t.Fatalf("rotation %d: the password AWSPREVIOUS held still logs in", i)
		}
		for _, v := range []secret.Value{cur, next} {
			if err := srv.Login(t.Context(), v.Username, v.Password); err != nil {
				t.Fatalf("rotation %d: current or previous does not log in: %v", i, err)
			}
		}
		prev, cur, hasPrev = cur, next, true
	}
}

// TestFinishRecordNotTrusted: a record that is stale (the secret was edited
// by hand, copying the old keys), names the pending or the current password,
// or is not a hash, removes neither the current nor the pending password;
// finishSecret then falls back to reading AWSPREVIOUS and removes it.
func TestFinishRecordNotTrusted(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	r := New(testConfig(t, srv))
	for name, edit := range map[string]func(cur, pending *secret.Value){
		"stale": func(cur, pending *secret.Value) {}, // the hand-made current copied a record about other passwords
		"retires the pending password": func(_, pending *secret.Value) {
			pending.Set(KeyRetiresSHA256, hashOf(pending.Password))
		},
		"retires the current password": func(cur, pending *secret.Value) {
			pending.Set(KeyRetiresSHA256, strings.ToUpper(hashOf(cur.Password)))
		},
		"not a hash": func(_, pending *secret.Value) { pending.Set(KeyRetiresSHA256, "x "+hashOf("a")) },
	} {
		t.Run(name, func(t *testing.T) {
			first := newTestUser(t, srv, "rec")
			first.Set(KeyReplacesSHA256, hashOf("an-older-password"))
			// By hand: a new password added on the server, put as the new
			// AWSCURRENT with the old keys copied; first is AWSPREVIOUS.
			cur := first.Clone()
			cur.Password = "by-hand-" + rotationtest.NewToken()[:16]
			srv.Admin(t, "ACL", "SETUSER", cur.Username, ">"+cur.Password)
			cr, err := r.Create(t.Context(), rotators.CreateRequest{Current: cur, Passwords: password.Local{}, Previous: load(first, true)})
			if err != nil {
				t.Fatal(err)
			}
			pending := cr.Pending
			edit(&cur, &pending)
			steps(t, r, cur, pending, first, true)
			if srv.Login(t.Context(), first.Username, first.Password) == nil {
				t.Fatal("the password AWSPREVIOUS held still logs in")
			}
			for _, v := range []secret.Value{cur, pending} {
				if err := srv.Login(t.Context(), v.Username, v.Password); err != nil {
					t.Fatalf("the current or pending password was removed: %v", err)
				}
			}
			if n := srv.Passwords(t, cur.Username); n != 2 {
				t.Fatalf("user holds %d passwords, want 2", n)
			}
		})
	}
}

// TestForgedRecordCannotRetireCurrent: a pending value written by a hostile
// writer (PutSecretValue with the rotation's token) records that it replaced
// some other password and retires the current one. finishSecret trusts the
// pending value's records without reading AWSCURRENT, so without a check the
// password AWSCURRENT holds (AWSPREVIOUS's after the rotation, which clients
// still use) would be removed. setSecret, which has AWSCURRENT, refuses it
// before it changes anything.
func TestForgedRecordCannotRetireCurrent(t *testing.T) {
	dbtest.NeedsServers(t)
	srv := dbtest.StartRedis(t, true)
	r := New(testConfig(t, srv))
	for name, replaces := range map[string]string{
		"another password":              hashOf("not-the-current-password"),
		"AWSPREVIOUS's, upper-case hex": strings.ToUpper(hashOf("the-previous-password")),
	} {
		t.Run(name, func(t *testing.T) {
			cur := newTestUser(t, srv, "forged")
			cur.Set(KeyReplacesSHA256, hashOf("the-previous-password"))
			pending := cur.Clone()
			pending.Password = "hostile-" + rotationtest.NewToken()[:16]
			pending.Set(KeyReplacesSHA256, replaces)
			pending.Set(KeyRetiresSHA256, hashOf(cur.Password))
			_, err := r.Set(t.Context(), rotators.SetRequest{Current: cur, Pending: pending, Previous: load(secret.Value{}, false)})
			if err == nil {
				if _, err := r.Finish(t.Context(), rotators.FinishRequest{Pending: load(pending, true), Current: load(cur, true), Previous: load(secret.Value{}, false)}); err != nil {
					t.Fatal(err)
				}
				if err := srv.Login(t.Context(), cur.Username, cur.Password); err != nil {
					t.Fatalf("setSecret took the forged record and finishSecret removed the current password: %v", err)
				}
				t.Fatal("setSecret accepted a pending value whose record retires the current password")
			}
			if !errors.Is(err, ErrForgedRecord) || !strings.Contains(err.Error(), KeyRetiresSHA256) {
				t.Fatalf("err = %v, want ErrForgedRecord naming %s", err, KeyRetiresSHA256)
			}
			if strings.Contains(err.Error(), hashOf(cur.Password)) {
				t.Fatal("the error carries the current password's hash")
			}
			if n := srv.Passwords(t, cur.Username); n != 1 {
				t.Fatalf("user holds %d passwords after the refusal, want 1 (nothing changed)", n)
			}
		})
	}
}

// TestIsSHA256Hex: isSHA256Hex accepts exactly what the pattern it replaced
// matched.
func TestIsSHA256Hex(t *testing.T) {
	pattern := regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	h := hashOf("x")
	for _, s := range []string{"", h, strings.ToUpper(h), h[:63], h + "0", h[:63] + "g", h[:63] + "\n", "\n" + h[1:], h[:62] + "é"} {
		if got, want := isSHA256Hex(s), pattern.MatchString(s); got != want {
			t.Errorf("isSHA256Hex(%q) = %t, the pattern says %t", s, got, want)
		}
	}
}

// TestCheckUsernameSet: checkUsername accepts exactly the names of this
// pattern (a letter, digit or _, then letters, digits and . _ - @ + :).
func TestCheckUsernameSet(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._@+:-]{0,127}$`)
	for _, s := range []string{"", "a", "_", ".a", "-a", "app", "app_clone", "a.b-c@d+e:f", "a b", "a\x00", "a\n", "é", "aé",
		"a/b", "a*", "a~", strings.Repeat("a", 128), strings.Repeat("a", 129)} {
		if got, want := checkUsername(s) == nil, pattern.MatchString(s); got != want {
			t.Errorf("checkUsername(%q) accepts: %t, the pattern says %t", s, got, want)
		}
	}
}
