package hostile

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
)

// sniffer is a TCP proxy in front of a real database server that looks at
// each connection's first client message: a TLS request, or a plaintext
// login whose user name it records. It forwards everything unchanged.
type sniffer struct {
	Host string
	Port int

	ln     net.Listener
	target string
	mysql  bool // the server speaks first (MySQL); else PostgreSQL

	mu     sync.Mutex
	logins []sniffed
	wg     sync.WaitGroup
}

// sniffed is one connection: TLS requested, or the plaintext login's user.
type sniffed struct {
	TLS  bool
	User string
}

// clientSSL is the MySQL CLIENT_SSL capability flag: a 32-byte handshake
// response carrying it asks to switch to TLS.
const clientSSL = 1 << 11

func startSniffer(t *testing.T, target string, mysql bool) *sniffer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the real server's certificate names 127.0.0.1
	if err != nil {
		t.Fatal(err)
	}
	s := &sniffer{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, ln: ln, target: target, mysql: mysql}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() { _ = ln.Close(); s.wg.Wait() })
	return s
}

// PlaintextUsers returns the users that logged in without TLS.
func (s *sniffer) PlaintextUsers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.logins {
		if !l.TLS {
			out = append(out, l.User)
		}
	}
	return out
}

func (s *sniffer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.forward(c)
		}()
	}
}

func (s *sniffer) forward(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", s.target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		_, _ = io.Copy(client, server)
		_ = client.Close()
	}()
	first, l, err := s.firstMessage(client)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.logins = append(s.logins, l)
	s.mu.Unlock()
	if _, err := server.Write(first); err != nil {
		return
	}
	_, _ = io.Copy(server, client)
}

// firstMessage reads the client's first message and classifies it.
func (s *sniffer) firstMessage(c net.Conn) ([]byte, sniffed, error) {
	if s.mysql {
		// Packet: 3-byte length, sequence; payload: capabilities (4),
		// max packet (4), charset (1), filler (23), then the user name
		// unless it is only an SSL request.
		h := make([]byte, 4)
		if _, err := io.ReadFull(c, h); err != nil {
			return nil, sniffed{}, err
		}
		n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
		p := make([]byte, n)
		if _, err := io.ReadFull(c, p); err != nil {
			return nil, sniffed{}, err
		}
		l := sniffed{}
		if n >= 4 && binary.LittleEndian.Uint32(p)&clientSSL != 0 && n == 32 {
			l.TLS = true
		} else if n > 32 {
			if i := bytes.IndexByte(p[32:], 0); i >= 0 {
				l.User = string(p[32 : 32+i])
			}
		}
		return append(h, p...), l, nil
	}
	// PostgreSQL: length (4), then SSLRequest code or protocol version and
	// NUL-separated parameters.
	h := make([]byte, 4)
	if _, err := io.ReadFull(c, h); err != nil {
		return nil, sniffed{}, err
	}
	n := int(binary.BigEndian.Uint32(h))
	if n < 8 || n > 10000 {
		return nil, sniffed{}, io.ErrUnexpectedEOF
	}
	p := make([]byte, n-4)
	if _, err := io.ReadFull(c, p); err != nil {
		return nil, sniffed{}, err
	}
	l := sniffed{}
	if binary.BigEndian.Uint32(p) == 80877103 { // SSLRequest
		l.TLS = true
	} else {
		params := strings.Split(string(p[4:]), "\x00")
		for i := 0; i+1 < len(params); i += 2 {
			if params[i] == "user" {
				l.User = params[i+1]
			}
		}
	}
	return append(h, p...), l, nil
}

// TestNoDowngrade is the rest of attack 2: a master secret with a host (the
// right server) and no "ssl" key, and a user secret on the same server with
// "ssl": false. The user may choose plaintext for its own credential; the
// master's login must still use TLS, which only the master secret decides.
// A proxy in front of the real server records every login made without TLS.
func TestNoDowngrade(t *testing.T) {
	pg, maria := servers(t)
	w := world(t)
	fn := startCentral(t, w, centralConfig("rotary-central", bundle(t, pg.CAFile(), maria.CAFile())))
	for _, target := range []rig.Target{pg, maria} {
		t.Run(target.Engine(), func(t *testing.T) {
			_, isMaria := target.(rig.MariaDB)
			proxy := startSniffer(t, target.Addr(), isMaria)
			planted := &secrets{}
			master := newUser(t, target, planted, "master", true)
			mv := target.Secret(master.user, master.password) // no "ssl" key: verified TLS
			mv.Host, mv.Port = proxy.Host, proxy.Port
			masterARN := createSecret(t, w, memberA, "db/master-"+master.user, mv)
			app := newUser(t, target, planted, "app", false)
			v := alternating(target, app, masterARN)
			v.Host, v.Port = proxy.Host, proxy.Port
			off := false
			v.SSL = &off
			arn := createSecret(t, w, memberA, "plain/"+app.user, v)
			s := &rig.Secret{Case: rig.Case{Name: "plain/" + app.user, Account: memberA, Target: target, Strategy: rotators.AlternatingUsers}, ARN: arn, MasterARN: masterARN, User: app.user}

			r, err := w.Rotate(t.Context(), s, fn)
			if err != nil {
				t.Fatal(err)
			}
			if c := w.Verify(t.Context(), s, r); !c.OK() {
				t.Errorf("the user's own choice of plaintext must keep working: %v", c.Err())
			}
			for _, u := range proxy.PlaintextUsers() {
				if u == master.user {
					t.Errorf("the master %s logged in without TLS: the user secret's \"ssl\": false downgraded the master's connection", u)
				}
			}
			if len(proxy.PlaintextUsers()) == 0 {
				t.Error("no plaintext login at all: the user's own \"ssl\": false was not honoured, so the test proves nothing")
			}
			noLeaks(t, fn, planted, s, r.Run.Error)
		})
	}
}

// TestCleartextRequestRefused is the client side of no downgrade: a server
// that asks for the password in cleartext (PostgreSQL) or for "full
// authentication" (MySQL caching_sha2_password, answered in cleartext or
// RSA-encrypted with a key the server itself supplies) over a connection that
// is not verified TLS gets nothing. Even a secret's own password is only
// revealed over verified TLS.
func TestCleartextRequestRefused(t *testing.T) {
	mustListen(t, attackerHost)
	w := world(t)
	fn := startCentral(t, w, centralConfig("rotary-central", ""))
	for _, engine := range []string{"postgres", "mysql"} {
		t.Run(engine, func(t *testing.T) {
			planted := &secrets{}
			app := tenant{user: "app_" + rig.RandomHex(4), password: rig.NewPassword()}
			planted.add(app.password)
			var received func() []string
			var host string
			var port int
			if engine == "postgres" {
				f := startFakePG(t, nil, false, nil) // knows nobody: asks everyone for cleartext
				host, port, received = f.Host, f.Port, f.Passwords
			} else {
				f := startFakeMySQL(t, nil, nil)
				host, port, received = f.Host, f.Port, f.Passwords
			}
			off := false
			v := secret.Value{Engine: engine, Host: host, Port: port, Username: app.user, Password: app.password, SSL: &off}
			arn := createSecret(t, w, memberA, "plain/"+engine+"-"+app.user, v)
			s := &rig.Secret{Case: rig.Case{Name: "plain/" + engine + "-" + app.user, Account: memberA, Strategy: rotators.SingleUser}, ARN: arn, User: app.user}

			w.AWS.ResetCalls()
			refused(t, w, s, fn, planted, "TLS")
			for _, pw := range received() {
				if pw == app.password {
					t.Error("the server received the password over a connection without verified TLS")
				}
			}
		})
	}
}
