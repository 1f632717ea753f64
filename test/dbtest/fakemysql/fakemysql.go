// Package fakemysql is a hostile MySQL server for tests: it speaks enough of
// the client/server protocol (handshake v10, AuthSwitchRequest, AuthMoreData,
// COM_QUERY) for go-sql-driver/mysql to log in and run statements, and it
// tries to make the client reveal its password: it asks for
// mysql_clear_password, or for sha256_password / caching_sha2_password full
// authentication with an RSA key of its own. It records every password it
// receives in a form it can read, so a test can assert that a credential never
// reached it. It can also accept any login and then never answer a query
// (Stall), to prove a client bounds every statement.
//
// Config.Users lets the users it knows prove their own password through
// caching_sha2_password's fast path (an attacker's server passing a client's
// "current credentials log in" check); Config.Deny refuses a login once it
// has recorded the password it revealed.
//
// It listens on a loopback port (127.0.0.1 unless Config.Host says otherwise)
// and is closed when the test ends. It must
// never be imported by production code.
package fakemysql

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Auth is how the server authenticates a user not listed in Config.Accept.
type Auth int

const (
	// AuthAcceptAny offers mysql_native_password and accepts any answer; the
	// password is never revealed (the client sends a scramble).
	AuthAcceptAny Auth = iota
	// AuthClearText switches to mysql_clear_password (AuthSwitchRequest): a
	// client that answers sends its password as is.
	AuthClearText
	// AuthSHA256 switches to sha256_password and sends its own RSA public
	// key: a client without TLS that encrypts with it reveals the password;
	// one with TLS sends it as is.
	AuthSHA256
	// AuthCachingSHA2Full switches to caching_sha2_password and asks for full
	// authentication: a client without TLS then asks for, and encrypts with,
	// the server's own RSA key; one with TLS sends the password as is.
	AuthCachingSHA2Full
)

// String names the method for test names.
func (a Auth) String() string {
	switch a {
	case AuthAcceptAny:
		return "accept-any"
	case AuthClearText:
		return "mysql_clear_password"
	case AuthSHA256:
		return "sha256_password"
	case AuthCachingSHA2Full:
		return "caching_sha2_password full authentication"
	}
	return "auth(" + strconv.Itoa(int(a)) + ")"
}

// Config says how the fake behaves. The zero value accepts every login and
// answers every query.
type Config struct {
	// Auth applies to every user not in Accept.
	Auth Auth
	// Accept lists users always accepted with AuthAcceptAny (for example the
	// user secret's own user, so that the attack reaches the master login).
	Accept []string
	// Version is the answer to SELECT VERSION(); default "8.0.36".
	Version string
	// Stall lists query prefixes (case-insensitive) the server never
	// answers: it keeps the connection open and silent until the client
	// closes it. "" stalls every query, including the client's first one.
	Stall []string
	// TLS, when set, is offered to clients (CLIENT_SSL); clients that ask
	// are served over it.
	TLS *tls.Config
	// Fail answers queries with server errors, as a server under lock
	// contention does (1213 deadlock, 1205 lock wait timeout).
	Fail []Failure
	// Users lists users (name -> password) that must prove their own
	// password through caching_sha2_password's fast path (the users an
	// attacker's server knows, so that a client's "current credentials log
	// in" check passes). A wrong proof goes on to full authentication, which
	// makes the client reveal the password.
	Users map[string]string
	// Deny refuses every login that revealed a password (1045, after
	// recording it); by default such a login is accepted.
	Deny bool
	// Host is the loopback address to listen on; default 127.0.0.1.
	Host string
}

// Failure makes the first Times queries starting with Prefix
// (case-insensitive) fail with server error Code; Times 0 means every one.
type Failure struct {
	Prefix string
	Code   uint16
	Times  int
}

// Login is one authentication attempt the server saw.
type Login struct {
	User string
	// Plugin is the authentication method the server asked for.
	Plugin string
	// Password is what the client revealed: sent as is, or encrypted with the
	// server's key. Empty when the client revealed nothing.
	Password string
	// TLS reports whether the attempt ran over TLS.
	TLS bool
}

// Server is a running fake.
type Server struct {
	// Host is 127.0.0.1; Port the listener's port.
	Host string
	Port int

	cfg  Config
	key  *rsa.PrivateKey
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	log  []Login
	qs   []string
	stal int
	fail []int // per Config.Fail: how many times it fired
	open map[net.Conn]bool
	done bool
}

// Start starts a fake on a free loopback port, closed when t ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("fakemysql: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// New starts a fake on a free loopback port; the caller must Close it.
func New(cfg Config) (*Server, error) {
	if cfg.Version == "" {
		cfg.Version = "8.0.36"
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, "0"))
	if err != nil {
		return nil, err
	}
	s := &Server{Host: cfg.Host, Port: ln.Addr().(*net.TCPAddr).Port, cfg: cfg, key: key, ln: ln, open: map[net.Conn]bool{}, fail: make([]int, len(cfg.Fail))}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Close stops the listener, closes every connection (ending stalls) and waits
// for the server's goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.done = true
	for c := range s.open {
		_ = c.Close()
	}
	s.mu.Unlock()
	_ = s.ln.Close()
	s.wg.Wait()
}

// Logins returns every authentication attempt so far, in order.
func (s *Server) Logins() []Login {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Login(nil), s.log...)
}

// Passwords returns every password a client revealed, in order.
func (s *Server) Passwords() []string {
	var out []string
	for _, l := range s.Logins() {
		if l.Password != "" {
			out = append(out, l.Password)
		}
	}
	return out
}

// Received reports whether a client revealed pw (in full).
func (s *Server) Received(pw string) bool {
	for _, p := range s.Passwords() {
		if p == pw {
			return true
		}
	}
	return false
}

// Queries returns the text of every COM_QUERY received, stalled ones
// included.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.qs...)
}

// Stalled returns how many queries the server has left unanswered.
func (s *Server) Stalled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stal
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.open[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.open, c)
				s.mu.Unlock()
				_ = c.Close()
			}()
			s.handle(c)
		}()
	}
}

// Capability flags the fake announces.
const (
	capLongPassword     = 1
	capLongFlag         = 4
	capConnectWithDB    = 8
	capProtocol41       = 0x200
	capSSL              = 0x800
	capTransactions     = 0x2000
	capSecureConn       = 0x8000
	capMultiResults     = 1 << 17
	capPluginAuth       = 1 << 19
	capConnectAttrs     = 1 << 20
	capPluginAuthLenenc = 1 << 21
)

// conn is one client connection: packets with sequence numbers.
type conn struct {
	rw  net.Conn
	seq byte
	tls bool
}

func (c *conn) read() ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(c.rw, h[:]); err != nil {
		return nil, err
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	c.seq = h[3] + 1
	p := make([]byte, n)
	_, err := io.ReadFull(c.rw, p)
	return p, err
}

func (c *conn) write(p []byte) error {
	h := []byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), c.seq}
	c.seq++
	_, err := c.rw.Write(append(h, p...))
	return err
}

func (c *conn) ok() error { return c.write([]byte{0, 0, 0, 2, 0, 0, 0}) }

func (c *conn) fail(code uint16, msg string) error {
	p := []byte{0xff, byte(code), byte(code >> 8), '#'}
	p = append(p, "HY000"...)
	return c.write(append(p, msg...))
}

func (s *Server) handle(rw net.Conn) {
	c := &conn{rw: rw}
	scramble := make([]byte, 20)
	_, _ = rand.Read(scramble)
	for i := range scramble {
		scramble[i] = scramble[i]%94 + 33 // printable, never 0, as servers do
	}
	caps := uint32(capLongPassword | capLongFlag | capConnectWithDB | capProtocol41 | capTransactions |
		capSecureConn | capMultiResults | capPluginAuth | capConnectAttrs | capPluginAuthLenenc)
	if s.cfg.TLS != nil {
		caps |= capSSL
	}
	hs := []byte{10}
	hs = append(hs, s.cfg.Version...)
	hs = append(hs, 0, 1, 0, 0, 0)
	hs = append(hs, scramble[:8]...)
	hs = append(hs, 0, byte(caps), byte(caps>>8), 0x21, 2, 0, byte(caps>>16), byte(caps>>24), 21)
	hs = append(hs, make([]byte, 10)...)
	hs = append(hs, scramble[8:]...)
	hs = append(hs, 0)
	hs = append(hs, "mysql_native_password"...)
	hs = append(hs, 0)
	if c.write(hs) != nil {
		return
	}
	resp, err := c.read()
	if err != nil || len(resp) < 32 {
		return
	}
	if binary.LittleEndian.Uint32(resp)&capSSL != 0 && len(resp) == 32 && s.cfg.TLS != nil {
		tc := tls.Server(rw, s.cfg.TLS)
		if tc.Handshake() != nil {
			return
		}
		c.rw, c.tls = tc, true
		if resp, err = c.read(); err != nil || len(resp) < 32 {
			return
		}
	}
	user := string(resp[32:])
	if i := strings.IndexByte(user, 0); i >= 0 {
		user = user[:i]
	}
	if !s.authenticate(c, user, scramble) || c.ok() != nil {
		return
	}
	s.commands(c, user)
}

// authenticate runs the auth exchange for user after the handshake response
// and records what the client revealed (before any answer reaches the
// client, so a test sees it as soon as the client returns); false ends the
// connection.
func (s *Server) authenticate(c *conn, user string, scramble []byte) bool {
	l := Login{User: user, Plugin: "mysql_native_password", TLS: c.tls}
	s.mu.Lock()
	idx := len(s.log)
	s.log = append(s.log, l)
	s.mu.Unlock()
	store := func() {
		s.mu.Lock()
		s.log[idx] = l
		s.mu.Unlock()
	}
	mode := s.cfg.Auth
	want, known := s.cfg.Users[user]
	if known {
		mode = AuthCachingSHA2Full
	}
	for _, u := range s.cfg.Accept {
		if u == user {
			mode = AuthAcceptAny
		}
	}
	switchTo := func(plugin string) bool {
		l.Plugin = plugin
		store()
		p := append([]byte{0xfe}, plugin...)
		p = append(p, 0)
		p = append(p, scramble...)
		return c.write(append(p, 0)) == nil
	}
	pemKey := func() []byte {
		der, _ := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
		return append([]byte{1}, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	// reveal reads what the client sends once it has the key (or, over TLS,
	// the password itself).
	reveal := func(p []byte) string {
		if !c.tls && len(p) == s.key.Size() {
			if plain, err := rsa.DecryptOAEP(sha1.New(), rand.Reader, s.key, p, nil); err == nil {
				for i := range plain {
					plain[i] ^= scramble[i%len(scramble)]
				}
				return string(bytes.TrimSuffix(plain, []byte{0}))
			}
		}
		return string(bytes.TrimSuffix(p, []byte{0}))
	}
	// full reads what the client sends for full authentication: the
	// password itself, or (after a public key request, keyRequest, and the
	// server's key) the password encrypted with it; records it and admits.
	full := func(keyRequest byte) bool {
		p, err := c.read()
		if err != nil {
			return false
		}
		if len(p) == 1 && p[0] == keyRequest {
			if c.write(pemKey()) != nil {
				return false
			}
			if p, err = c.read(); err != nil {
				return false
			}
		}
		l.Password = reveal(p)
		store()
		return s.admit(c, l)
	}
	switch mode {
	case AuthAcceptAny:
		store()
		return true
	case AuthClearText:
		if !switchTo("mysql_clear_password") {
			return false
		}
		p, err := c.read()
		if err != nil {
			return false
		}
		l.Password = string(bytes.TrimSuffix(p, []byte{0}))
		store()
		return s.admit(c, l)
	case AuthSHA256:
		if !switchTo("sha256_password") {
			return false
		}
		return full(1)
	case AuthCachingSHA2Full:
		if !switchTo("caching_sha2_password") {
			return false
		}
		proof, err := c.read() // the scramble: reveals nothing
		if err != nil {
			return false
		}
		if known && bytes.Equal(proof, sha256Scramble(scramble, want)) {
			return c.write([]byte{1, 3}) == nil // fast authentication success
		}
		if c.write([]byte{1, 4}) != nil { // perform full authentication
			return false
		}
		return full(2)
	}
	_ = c.fail(1045, "Access denied")
	return false
}

// admit answers a login that revealed l.Password: accepted, or with Deny
// refused.
func (s *Server) admit(c *conn, l Login) bool {
	if s.cfg.Deny && l.Password != "" {
		_ = c.fail(1045, "Access denied for user '"+l.User+"'")
		return false
	}
	return true
}

// sha256Scramble is what a client sends for caching_sha2_password's fast
// path: XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)), nonce)).
func sha256Scramble(nonce []byte, password string) []byte {
	m1 := sha256.Sum256([]byte(password))
	m1h := sha256.Sum256(m1[:])
	m2 := sha256.Sum256(append(m1h[:], nonce...))
	out := make([]byte, len(m1))
	for i := range m1 {
		out[i] = m1[i] ^ m2[i]
	}
	return out
}

// commands answers COM_QUERY: SELECT VERSION() and SELECT CURRENT_USER()
// with a row, SHOW statements with an error, anything else with OK, and
// stalls as configured.
func (s *Server) commands(c *conn, user string) {
	for {
		c.seq = 0
		p, err := c.read()
		if err != nil || len(p) == 0 {
			return
		}
		switch p[0] {
		case 0x01: // COM_QUIT
			return
		case 0x0e: // COM_PING
			if c.ok() != nil {
				return
			}
			continue
		case 0x03: // COM_QUERY
		default:
			if c.fail(1047, "Unknown command") != nil {
				return
			}
			continue
		}
		q := string(p[1:])
		s.mu.Lock()
		s.qs = append(s.qs, q)
		s.mu.Unlock()
		if s.stalls(q) {
			s.mu.Lock()
			s.stal++
			s.mu.Unlock()
			_, _ = io.Copy(io.Discard, c.rw) // silent until the client hangs up
			return
		}
		upper := strings.ToUpper(strings.TrimSpace(q))
		switch code := s.failure(q); {
		case code != 0:
			err = c.fail(code, "injected failure")
		case upper == "SELECT VERSION()":
			err = c.row("VERSION()", s.cfg.Version)
		case upper == "SELECT CURRENT_USER()":
			err = c.row("CURRENT_USER()", user+"@%")
		case strings.HasPrefix(upper, "SHOW"), strings.HasPrefix(upper, "SELECT"):
			err = c.fail(1142, "command denied")
		default:
			err = c.ok()
		}
		if err != nil {
			return
		}
	}
}

// failure returns the error code q must fail with, or 0.
func (s *Server) failure(q string) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.cfg.Fail {
		if len(q) >= len(f.Prefix) && strings.EqualFold(q[:len(f.Prefix)], f.Prefix) && (f.Times == 0 || s.fail[i] < f.Times) {
			s.fail[i]++
			return f.Code
		}
	}
	return 0
}

func (s *Server) stalls(q string) bool {
	for _, p := range s.cfg.Stall {
		if len(q) >= len(p) && strings.EqualFold(q[:len(p)], p) {
			return true
		}
	}
	return false
}

// row sends a one-column, one-row text result set.
func (c *conn) row(name, value string) error {
	lenenc := func(b []byte, s string) []byte { return append(append(b, byte(len(s))), s...) }
	if err := c.write([]byte{1}); err != nil {
		return err
	}
	col := lenenc(nil, "def")
	col = lenenc(col, "")
	col = lenenc(col, "")
	col = lenenc(col, "")
	col = lenenc(col, name)
	col = lenenc(col, "")
	col = append(col, 0x0c, 0x21, 0, 0, 1, 0, 0, 0xfd, 0, 0, 0, 0, 0)
	eof := []byte{0xfe, 0, 0, 2, 0}
	for _, p := range [][]byte{col, eof, lenenc(nil, value), eof} {
		if err := c.write(p); err != nil {
			return err
		}
	}
	return nil
}
