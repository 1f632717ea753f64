// Package fakepg is a hostile PostgreSQL server for tests: it speaks just
// enough of the protocol (pgproto3) to take a client through TLS negotiation
// and authentication, and records what the client sent. It asks for the
// password in cleartext or as md5 (what a malicious server does to learn a
// password), lets the users it knows log in by SCRAM-SHA-256 with their own
// password (Options.Users: an attacker's server passing a client's "current
// credentials log in" check), or accepts any login and then never answers (a
// stalling target).
//
// Every server listens on a free loopback port (127.0.0.1 unless
// Options.Host says otherwise) and stops when its test ends.
package fakepg

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/rotary-secrets/rotary/test/dbtest"
)

// Auth is what the server asks a client after its startup message.
type Auth int

// Auth values.
const (
	// Cleartext asks for the password in cleartext
	// (AuthenticationCleartextPassword).
	Cleartext Auth = iota
	// MD5 asks for an md5 password hash (AuthenticationMD5Password).
	MD5
	// Trust accepts the login without asking for anything
	// (AuthenticationOk): "any password works".
	Trust
	// SCRAM runs a SCRAM-SHA-256 exchange (no password on the wire) and
	// accepts the login when the client proves Options.Password; else 28P01.
	SCRAM
)

// Options configure a Server.
type Options struct {
	// Auth is the authentication request sent after the startup message.
	Auth Auth
	// AuthFor overrides Auth for the user names it holds (e.g. Trust for the
	// attacker's own user, Cleartext for everyone else).
	AuthFor map[string]Auth
	// Password is the password SCRAM accepts (for every user).
	Password string
	// Users lists users (name -> password) that log in with SCRAM-SHA-256
	// and their own password, whatever Auth and AuthFor say: the users an
	// attacker's server knows, so that a client's "current credentials log
	// in" check passes.
	Users map[string]string
	// Host is the loopback address to listen on; default 127.0.0.1.
	Host string
	// Accept makes a Cleartext or MD5 login succeed once a password message
	// arrived (whatever it holds); by default the server records it and
	// answers 28P01 (invalid_password). Trust always accepts.
	Accept bool
	// Stall makes an accepted session read the client's messages and never
	// answer them (until the client hangs up or the test ends). Otherwise
	// every query fails with SQLSTATE 42501.
	Stall bool
	// TLS, when set, answers an SSLRequest with 'S' and shakes hands with this
	// configuration (see TLSConfig); nil answers 'N' (no TLS).
	TLS *tls.Config
}

// Server is a running fake server.
type Server struct {
	Addr string // host:port
	Host string // 127.0.0.1
	Port int

	opts Options
	ln   net.Listener
	wg   sync.WaitGroup

	mu        sync.Mutex
	conns     []net.Conn
	nConns    int
	nTLS      int
	users     []string
	passwords []string
	queries   []string
	received  bytes.Buffer
	stalled   chan struct{}
}

// Start starts a server with opts; it stops when t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(opts.Host, "0"))
	if err != nil {
		t.Fatalf("fakepg: listen on %s: %v", opts.Host, err)
	}
	host, portStr, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portStr)
	s := &Server{Addr: ln.Addr().String(), Host: host, Port: port, opts: opts, ln: ln, stalled: make(chan struct{}, 16)}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// TLSConfig returns a server TLS configuration with ca's server certificate
// (dbtest.NewCA(t, names...) makes one for the names a client should accept;
// a client trusting ca.CAFile then verifies it).
func TLSConfig(t testing.TB, ca dbtest.CA) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(ca.CertFile, ca.KeyFile)
	if err != nil {
		t.Fatalf("fakepg: load certificate: %v", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// Close stops the server and closes every connection; Start's cleanup calls it.
func (s *Server) Close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Connections is the number of connections accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nConns
}

// TLSConnections is the number of connections that completed a TLS handshake.
func (s *Server) TLSConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nTLS
}

// Users are the user names of the startup messages received.
func (s *Server) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.users...)
}

// Passwords are the payloads of the password messages received: cleartext
// passwords, or "md5…" hashes.
func (s *Server) Passwords() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.passwords...)
}

// Queries are the SQL texts received in Query and Parse messages.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

// Stalled receives once per statement a Stall server left unanswered (up to
// 16 pending).
func (s *Server) Stalled() <-chan struct{} { return s.stalled }

// stall notes an unanswered statement.
func (s *Server) stall() {
	select {
	case s.stalled <- struct{}{}:
	default:
	}
}

// Received is every byte clients sent, as the server read them (after TLS
// decryption): a test can check that a secret never appears in it.
func (s *Server) Received() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.received.Bytes())
}

// ReceivedAny reports whether any of values (non-empty) appears in Received.
func (s *Server) ReceivedAny(values ...string) bool {
	got := s.Received()
	for _, v := range values {
		if v != "" && bytes.Contains(got, []byte(v)) {
			return true
		}
	}
	return false
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.nConns++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			_ = s.handle(c)
		}()
	}
}

// recorder copies what is read into the server's record.
type recorder struct {
	r io.Reader
	s *Server
}

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.s.mu.Lock()
		r.s.received.Write(p[:n])
		r.s.mu.Unlock()
	}
	return n, err
}

func (s *Server) record(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *Server) handle(c net.Conn) error {
	var conn net.Conn = c
	be := pgproto3.NewBackend(recorder{conn, s}, conn)
	var startup *pgproto3.StartupMessage
	for startup == nil {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if s.opts.TLS == nil {
				if _, err := conn.Write([]byte{'N'}); err != nil {
					return err
				}
				continue
			}
			if _, err := conn.Write([]byte{'S'}); err != nil {
				return err
			}
			tc := tls.Server(c, s.opts.TLS)
			if err := tc.Handshake(); err != nil {
				return err
			}
			s.record(func() { s.nTLS++ })
			conn = tc
			be = pgproto3.NewBackend(recorder{conn, s}, conn)
		case *pgproto3.GSSEncRequest:
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return err
			}
		case *pgproto3.StartupMessage:
			startup = m
		default: // CancelRequest and the rest: nothing to say
			return nil
		}
	}
	s.record(func() { s.users = append(s.users, startup.Parameters["user"]) })

	auth, ok := s.opts.AuthFor[startup.Parameters["user"]]
	if !ok {
		auth = s.opts.Auth
	}
	password := s.opts.Password
	if pw, known := s.opts.Users[startup.Parameters["user"]]; known {
		auth, password = SCRAM, pw
	}
	switch auth {
	case Trust:
	case SCRAM:
		ok, err := s.scram(be, password)
		if err != nil {
			return err
		}
		if !ok {
			be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: "password authentication failed for user \"" + startup.Parameters["user"] + "\""})
			return be.Flush()
		}
	case Cleartext, MD5:
		authType := uint32(pgproto3.AuthTypeCleartextPassword)
		var req pgproto3.BackendMessage = &pgproto3.AuthenticationCleartextPassword{}
		if auth == MD5 {
			authType = pgproto3.AuthTypeMD5Password
			req = &pgproto3.AuthenticationMD5Password{Salt: [4]byte{1, 2, 3, 4}}
		}
		be.Send(req)
		if err := be.Flush(); err != nil {
			return err
		}
		if err := be.SetAuthType(authType); err != nil {
			return err
		}
		msg, err := be.Receive()
		if err != nil {
			return err
		}
		pw, ok := msg.(*pgproto3.PasswordMessage)
		if !ok {
			return errors.New("fakepg: expected a password message")
		}
		s.record(func() { s.passwords = append(s.passwords, pw.Password) })
		if !s.opts.Accept {
			be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: "password authentication failed for user \"" + startup.Parameters["user"] + "\""})
			return be.Flush()
		}
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "16.0"})
	be.Send(&pgproto3.ParameterStatus{Name: "client_encoding", Value: "UTF8"})
	be.Send(&pgproto3.ParameterStatus{Name: "standard_conforming_strings", Value: "on"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 4242, SecretKey: []byte{1, 2, 3, 4}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		return err
	}
	for {
		msg, err := be.Receive()
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.Terminate:
			return nil
		case *pgproto3.Query:
			s.record(func() { s.queries = append(s.queries, m.String) })
			if s.opts.Stall {
				s.stall()
			} else {
				be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "42501", Message: "fakepg answers no query"})
				be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			}
		case *pgproto3.Parse:
			s.record(func() { s.queries = append(s.queries, m.Query) })
		case *pgproto3.Sync:
			if s.opts.Stall {
				s.stall()
			} else {
				be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "42501", Message: "fakepg answers no query"})
				be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			}
		}
		if err := be.Flush(); err != nil {
			return err
		}
	}
}

// scram runs the server side of SCRAM-SHA-256 (RFC 5802/7677, no channel
// binding) against password and reports whether the client proved it.
// On success the AuthenticationSASLFinal message is sent (AuthenticationOk
// follows).
func (s *Server) scram(be *pgproto3.Backend, password string) (bool, error) {
	be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := be.Flush(); err != nil {
		return false, err
	}
	if err := be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return false, err
	}
	msg, err := be.Receive()
	if err != nil {
		return false, err
	}
	initial, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || initial.AuthMechanism != "SCRAM-SHA-256" {
		return false, errors.New("fakepg: expected a SCRAM-SHA-256 initial response")
	}
	// client-first-message: gs2-header ("n,,") then "n=<user>,r=<nonce>".
	gs2, bare, found := strings.Cut(string(initial.Data), ",,")
	if !found || gs2 == "" {
		return false, errors.New("fakepg: malformed client-first-message")
	}
	clientNonce := attr(bare, "r")
	snonce := make([]byte, 18)
	_, _ = rand.Read(snonce)
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	const iterations = 4096
	nonce := clientNonce + base64.StdEncoding.EncodeToString(snonce)
	serverFirst := "r=" + nonce + ",s=" + base64.StdEncoding.EncodeToString(salt) + ",i=" + strconv.Itoa(iterations)
	be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if err := be.Flush(); err != nil {
		return false, err
	}
	if err := be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return false, err
	}
	msg, err = be.Receive()
	if err != nil {
		return false, err
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return false, errors.New("fakepg: expected a SCRAM client-final-message")
	}
	final := string(resp.Data)
	withoutProof, proofB64, found := strings.Cut(final, ",p=")
	if !found || attr(withoutProof, "r") != nonce {
		return false, nil
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil {
		return false, nil
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return false, err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	authMessage := bare + "," + serverFirst + "," + withoutProof
	clientSig := hmacSHA256(storedKey[:], authMessage)
	if len(proof) != len(clientSig) {
		return false, nil
	}
	got := make([]byte, len(proof))
	for i := range proof {
		got[i] = proof[i] ^ clientSig[i]
	}
	if gotStored := sha256.Sum256(got); !hmac.Equal(gotStored[:], storedKey[:]) {
		return false, nil
	}
	serverSig := hmacSHA256(hmacSHA256(salted, "Server Key"), authMessage)
	be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte("v=" + base64.StdEncoding.EncodeToString(serverSig))})
	return true, nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// attr returns the value of name in a SCRAM attribute list ("a=1,b=2").
func attr(list, name string) string {
	for _, kv := range strings.Split(list, ",") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}
