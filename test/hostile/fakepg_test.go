package hostile

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// fakePG is the attacker's PostgreSQL server. It lets the users it knows log
// in with their own password through SCRAM-SHA-256 (so the "current
// credentials must log in" guard passes, and a client that refuses cleartext
// still logs in), and asks everyone else — the master user it hopes to see —
// for the password in cleartext, which it records. With stall set, a known
// user's session is accepted and then never gets an answer to any statement
// (a hostile or broken target holding a rotation).
type fakePG struct {
	Host string
	Port int

	ln    net.Listener
	tls   *tls.Config // nil: refuse TLS ('N')
	users map[string]string
	stall bool

	mu       sync.Mutex
	logins   []pgLogin
	stalls   chan struct{} // one value per statement stalled
	conns    []net.Conn
	closed   bool
	handlers sync.WaitGroup
}

// pgLogin is one login attempt the fake saw.
type pgLogin struct {
	User      string
	TLS       bool
	Cleartext string // the password a client sent in cleartext, if any
	OK        bool
}

// startFakePG listens on host (a loopback address) with the given TLS
// configuration (nil: plaintext only) and known users (name -> password).
func startFakePG(t *testing.T, host string, tlsConf *tls.Config, stall bool, users map[string]string) *fakePG {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("fake PostgreSQL: listen on %s: %v", host, err)
	}
	f := &fakePG{Host: host, Port: ln.Addr().(*net.TCPAddr).Port, ln: ln, tls: tlsConf, users: users, stall: stall, stalls: make(chan struct{}, 16)}
	f.handlers.Add(1)
	go f.accept()
	t.Cleanup(f.Close)
	return f
}

// Addr is host:port.
func (f *fakePG) Addr() string { return net.JoinHostPort(f.Host, strconv.Itoa(f.Port)) }

// Logins returns the login attempts so far.
func (f *fakePG) Logins() []pgLogin {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]pgLogin(nil), f.logins...)
}

// Stalled returns a channel that receives once per statement the fake
// stalls.
func (f *fakePG) Stalled() <-chan struct{} { return f.stalls }

// Close stops listening and closes every connection.
func (f *fakePG) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	conns := f.conns
	f.mu.Unlock()
	_ = f.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	f.handlers.Wait()
}

func (f *fakePG) accept() {
	defer f.handlers.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			_ = c.Close()
			return
		}
		f.conns = append(f.conns, c)
		f.handlers.Add(1)
		f.mu.Unlock()
		go func() {
			defer f.handlers.Done()
			defer c.Close()
			f.serve(c)
		}()
	}
}

func (f *fakePG) record(l pgLogin) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins = append(f.logins, l)
}

func (f *fakePG) serve(conn net.Conn) {
	be := pgproto3.NewBackend(conn, conn)
	secure := false
	var startup *pgproto3.StartupMessage
	for startup == nil {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if f.tls == nil || secure {
				if _, err := conn.Write([]byte{'N'}); err != nil {
					return
				}
				continue
			}
			if _, err := conn.Write([]byte{'S'}); err != nil {
				return
			}
			tc := tls.Server(conn, f.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, secure = tc, true
			be = pgproto3.NewBackend(conn, conn)
		case *pgproto3.GSSEncRequest:
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return
			}
		case *pgproto3.StartupMessage:
			startup = m
		default:
			return
		}
	}
	user := startup.Parameters["user"]
	login := pgLogin{User: user, TLS: secure}
	want, known := f.users[user]
	if known {
		login.OK = scramServer(be, want)
	} else {
		// The attacker's question to anyone else: "your password, please".
		be.Send(&pgproto3.AuthenticationCleartextPassword{})
		if be.Flush() != nil || be.SetAuthType(pgproto3.AuthTypeCleartextPassword) != nil {
			f.record(login)
			return
		}
		if msg, err := be.Receive(); err == nil {
			if pm, ok := msg.(*pgproto3.PasswordMessage); ok {
				login.Cleartext = pm.Password
			}
		}
	}
	f.record(login)
	if !login.OK {
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: "password authentication failed for user \"" + user + "\""})
		_ = be.Flush()
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	for k, v := range map[string]string{"server_version": "16.4", "server_encoding": "UTF8", "client_encoding": "UTF8",
		"standard_conforming_strings": "on", "DateStyle": "ISO, MDY", "integer_datetimes": "on", "TimeZone": "UTC"} {
		be.Send(&pgproto3.ParameterStatus{Name: k, Value: v})
	}
	be.Send(&pgproto3.BackendKeyData{ProcessID: 4242, SecretKey: []byte{1, 2, 3, 4}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		switch msg.(type) {
		case *pgproto3.Terminate:
			return
		case *pgproto3.Query, *pgproto3.Sync:
			if f.stall {
				// Never answer: hold the session until the client gives up.
				select {
				case f.stalls <- struct{}{}:
				default:
				}
				for {
					if _, err := conn.Read(make([]byte, 512)); err != nil {
						return
					}
				}
			}
			be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "0A000", Message: "not supported by this server"})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			if be.Flush() != nil {
				return
			}
		}
	}
}

// scramServer runs SCRAM-SHA-256 (RFC 5802, RFC 7677) for password and
// reports whether the client proved it knows it. On success it has sent
// AuthenticationSASLFinal; the caller sends AuthenticationOk.
func scramServer(be *pgproto3.Backend, password string) bool {
	be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if be.Flush() != nil || be.SetAuthType(pgproto3.AuthTypeSASL) != nil {
		return false
	}
	msg, err := be.Receive()
	if err != nil {
		return false
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || init.AuthMechanism != "SCRAM-SHA-256" {
		return false
	}
	first := string(init.Data)
	var bare string
	for _, gs2 := range []string{"n,,", "y,,"} {
		if b, ok := strings.CutPrefix(first, gs2); ok {
			bare = b
		}
	}
	clientNonce := scramAttr(bare, "r")
	if bare == "" || clientNonce == "" {
		return false
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	nonceBytes := make([]byte, 18)
	_, _ = rand.Read(nonceBytes)
	nonce := clientNonce + base64.StdEncoding.EncodeToString(nonceBytes)
	const iterations = 4096
	serverFirst := "r=" + nonce + ",s=" + base64.StdEncoding.EncodeToString(salt) + ",i=" + strconv.Itoa(iterations)
	be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if be.Flush() != nil || be.SetAuthType(pgproto3.AuthTypeSASLContinue) != nil {
		return false
	}
	msg, err = be.Receive()
	if err != nil {
		return false
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return false
	}
	final := string(resp.Data)
	i := strings.LastIndex(final, ",p=")
	if i < 0 || scramAttr(final, "r") != nonce {
		return false
	}
	proof, err := base64.StdEncoding.DecodeString(final[i+3:])
	if err != nil {
		return false
	}
	authMessage := bare + "," + serverFirst + "," + final[:i]
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return false
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	clientSig := hmacSHA256(storedKey[:], authMessage)
	if len(proof) != len(clientSig) {
		return false
	}
	recovered := make([]byte, len(proof))
	for j := range proof {
		recovered[j] = proof[j] ^ clientSig[j]
	}
	if got := sha256.Sum256(recovered); !bytes.Equal(got[:], storedKey[:]) {
		return false
	}
	serverSig := hmacSHA256(hmacSHA256(salted, "Server Key"), authMessage)
	be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte("v=" + base64.StdEncoding.EncodeToString(serverSig))})
	return true
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// scramAttr returns attribute name's value in a SCRAM message.
func scramAttr(msg, name string) string {
	for part := range strings.SplitSeq(msg, ",") {
		if v, ok := strings.CutPrefix(part, name+"="); ok {
			return v
		}
	}
	return ""
}
