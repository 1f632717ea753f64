package hostile

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
	"sync"
	"testing"
)

// fakeMySQL is the attacker's MySQL server: a small handshake-v10 server
// announcing caching_sha2_password. A known user's own password passes the
// fast path (the client proves it with a scramble), so the "current
// credentials must log in" guard passes. Anyone else — the master user — is
// asked for "full authentication", which a client answers with the password in
// cleartext over TLS, or RSA-encrypted with a public key the server itself
// hands out; either way the fake reads it and records it. After a login it
// answers SELECT VERSION() and refuses every other statement.
type fakeMySQL struct {
	Host string
	Port int

	ln    net.Listener
	tls   *tls.Config
	users map[string]string
	key   *rsa.PrivateKey

	mu       sync.Mutex
	logins   []myLogin
	conns    []net.Conn
	closed   bool
	handlers sync.WaitGroup
}

// myLogin is one login attempt the fake saw.
type myLogin struct {
	User      string
	TLS       bool
	Cleartext string // the password the client revealed, if any
	OK        bool
}

// startFakeMySQL listens on host with the given TLS configuration (nil: no
// TLS offered) and known users (name -> password).
func startFakeMySQL(t *testing.T, host string, tlsConf *tls.Config, users map[string]string) *fakeMySQL {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 1024) // the attacker's own key; small is fine here
	if err != nil {
		t.Fatalf("fake MySQL: RSA key: %v", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("fake MySQL: listen on %s: %v", host, err)
	}
	f := &fakeMySQL{Host: host, Port: ln.Addr().(*net.TCPAddr).Port, ln: ln, tls: tlsConf, users: users, key: key}
	f.handlers.Add(1)
	go f.accept()
	t.Cleanup(f.Close)
	return f
}

// Addr is host:port.
func (f *fakeMySQL) Addr() string { return net.JoinHostPort(f.Host, strconv.Itoa(f.Port)) }

// Logins returns the login attempts so far.
func (f *fakeMySQL) Logins() []myLogin {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]myLogin(nil), f.logins...)
}

// Close stops listening and closes every connection.
func (f *fakeMySQL) Close() {
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

func (f *fakeMySQL) accept() {
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

func (f *fakeMySQL) record(l myLogin) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins = append(f.logins, l)
}

// Capability flags (MySQL protocol).
const (
	capLongPassword    = 1 << 0
	capLongFlag        = 1 << 2
	capConnectWithDB   = 1 << 3
	capProtocol41      = 1 << 9
	capSSL             = 1 << 11
	capTransactions    = 1 << 13
	capSecureConn      = 1 << 15
	capMultiResults    = 1 << 17
	capPluginAuth      = 1 << 19
	capConnectAttrs    = 1 << 20
	capPluginAuthLenEn = 1 << 21
)

// myConn frames MySQL packets and keeps the sequence number.
type myConn struct {
	rw  io.ReadWriter
	seq byte
}

func (c *myConn) read() ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(c.rw, h[:]); err != nil {
		return nil, err
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	c.seq = h[3] + 1
	b := make([]byte, n)
	_, err := io.ReadFull(c.rw, b)
	return b, err
}

func (c *myConn) write(payload []byte) error {
	h := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), c.seq}
	c.seq++
	_, err := c.rw.Write(append(h, payload...))
	return err
}

func (c *myConn) ok() error { return c.write([]byte{0x00, 0, 0, 2, 0, 0, 0}) }

func (c *myConn) eof() error { return c.write([]byte{0xfe, 0, 0, 2, 0}) }

func (c *myConn) fail(code uint16, state, msg string) error {
	b := []byte{0xff, byte(code), byte(code >> 8), '#'}
	b = append(b, state...)
	return c.write(append(b, msg...))
}

func lenencStr(s string) []byte { return append([]byte{byte(len(s))}, s...) }

func (f *fakeMySQL) serve(conn net.Conn) {
	c := &myConn{rw: conn}
	nonce := make([]byte, 20)
	_, _ = rand.Read(nonce)
	for i := range nonce { // no NUL bytes: the scramble is sent NUL-terminated
		nonce[i] = nonce[i]%94 + 33
	}
	caps := uint32(capLongPassword | capLongFlag | capConnectWithDB | capProtocol41 | capTransactions | capSecureConn |
		capMultiResults | capPluginAuth | capConnectAttrs | capPluginAuthLenEn)
	if f.tls != nil {
		caps |= capSSL
	}
	hs := []byte{10}
	hs = append(hs, "8.0.36\x00"...)
	hs = binary.LittleEndian.AppendUint32(hs, 7)
	hs = append(hs, nonce[:8]...)
	hs = append(hs, 0)
	hs = binary.LittleEndian.AppendUint16(hs, uint16(caps))
	hs = append(hs, 255) // utf8mb4_0900_ai_ci
	hs = binary.LittleEndian.AppendUint16(hs, 2)
	hs = binary.LittleEndian.AppendUint16(hs, uint16(caps>>16))
	hs = append(hs, 21)
	hs = append(hs, make([]byte, 10)...)
	hs = append(hs, nonce[8:]...)
	hs = append(hs, 0)
	hs = append(hs, "caching_sha2_password\x00"...)
	if c.write(hs) != nil {
		return
	}
	resp, err := c.read()
	if err != nil || len(resp) < 32 {
		return
	}
	secure := false
	if binary.LittleEndian.Uint32(resp)&capSSL != 0 && len(resp) == 32 {
		if f.tls == nil {
			return
		}
		tc := tls.Server(conn, f.tls)
		if tc.Handshake() != nil {
			return
		}
		c.rw, secure = tc, true
		if resp, err = c.read(); err != nil || len(resp) < 32 {
			return
		}
	}
	rest := resp[32:]
	end := bytes.IndexByte(rest, 0)
	if end < 0 {
		return
	}
	user := string(rest[:end])
	rest = rest[end+1:]
	var scramble []byte
	if len(rest) > 0 && int(rest[0]) < 251 && len(rest) > int(rest[0]) {
		scramble = rest[1 : 1+int(rest[0])]
	}
	login := myLogin{User: user, TLS: secure}
	if want, known := f.users[user]; known && bytes.Equal(scramble, sha256Scramble(nonce, want)) {
		login.OK = true
		f.record(login)
		if c.write([]byte{0x01, 0x03}) != nil || c.ok() != nil { // fast auth success
			return
		}
		f.commands(c)
		return
	}
	// "Perform full authentication": the client must now reveal the password.
	if c.write([]byte{0x01, 0x04}) != nil {
		f.record(login)
		return
	}
	pkt, err := c.read()
	switch {
	case err != nil:
	case len(pkt) == 1 && pkt[0] == 0x02: // public key request
		der, _ := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
		if c.write(append([]byte{0x01}, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)) != nil {
			break
		}
		enc, err := c.read()
		if err != nil {
			break
		}
		if plain, err := rsa.DecryptOAEP(sha1.New(), nil, f.key, enc, nil); err == nil {
			for i := range plain {
				plain[i] ^= nonce[i%len(nonce)]
			}
			login.Cleartext = string(bytes.TrimRight(plain, "\x00"))
		}
	default:
		login.Cleartext = string(bytes.TrimRight(pkt, "\x00"))
	}
	f.record(login)
	_ = c.fail(1045, "28000", "Access denied for user '"+user+"'")
}

// commands answers SELECT VERSION() and refuses everything else, until
// COM_QUIT or the end of the connection.
func (f *fakeMySQL) commands(c *myConn) {
	for {
		pkt, err := c.read()
		if err != nil || len(pkt) == 0 {
			return
		}
		switch pkt[0] {
		case 0x01: // COM_QUIT
			return
		case 0x0e: // COM_PING
			if c.ok() != nil {
				return
			}
		case 0x03: // COM_QUERY
			if !bytes.EqualFold(bytes.TrimSpace(pkt[1:]), []byte("SELECT VERSION()")) {
				if c.fail(1227, "42000", "Access denied; you need (at least one of) the SUPER privilege(s) for this operation") != nil {
					return
				}
				continue
			}
			col := []byte{}
			for _, s := range []string{"def", "", "", "", "VERSION()", ""} {
				col = append(col, lenencStr(s)...)
			}
			col = append(col, 0x0c, 255, 0, 0, 1, 0, 0, 0xfd, 0, 0, 31, 0, 0)
			if c.write([]byte{1}) != nil || c.write(col) != nil || c.eof() != nil ||
				c.write(lenencStr("8.0.36")) != nil || c.eof() != nil {
				return
			}
		default:
			if c.fail(1047, "08S01", "Unknown command") != nil {
				return
			}
		}
	}
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
