package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// echoServer is a hostile LDAPS server: it accepts every bind and refuses
// every Modify with a diagnostic message quoting every string the request
// carried (the DN, the attribute and its values). It returns its port and
// the roots that verify it.
func echoServer(t *testing.T) (int, Config) {
	t.Helper()
	ca := dbtest.NewCA(t)
	cert, err := tls.LoadX509KeyPair(ca.CertFile, ca.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	reply := func(c net.Conn, id any, tag ber.Tag, code int64, diag string) error {
		p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "")
		op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, ""))
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, ""))
		p.AppendChild(op)
		_, err := c.Write(p.Bytes())
		return err
	}
	var strs func(p *ber.Packet, out *[]string)
	strs = func(p *ber.Packet, out *[]string) {
		if s, ok := p.Value.(string); ok && s != "" {
			*out = append(*out, s)
		}
		for _, ch := range p.Children {
			strs(ch, out)
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					p, err := ber.ReadPacket(c)
					if err != nil || len(p.Children) < 2 {
						return
					}
					id, op := p.Children[0].Value, p.Children[1]
					switch op.Tag {
					case 0: // bind request
						err = reply(c, id, 1, 0, "")
					case 6: // modify request
						var seen []string
						strs(op, &seen)
						err = reply(c, id, 7, 19, "constraint violation: "+strings.Join(seen, " "))
					default:
						return
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	pem, err := os.ReadFile(ca.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return ln.Addr().(*net.TCPAddr).Port, Config{RootCAs: pool}
}

// TestAdminModifyErrorHoldsNoHash: a server that quotes the Modify it refuses
// (a host is the secret writer's choice) cannot put the new password's
// {SSHA} hash into the step's error: the engine scrubs the secret's values,
// but it does not know the hash.
func TestAdminModifyErrorHoldsNoHash(t *testing.T) {
	port, cfg := echoServer(t)
	user := secret.Value{Engine: Engine, Host: "127.0.0.1", Port: port, Username: "uid=app,dc=x", Password: "current-" + rotationtest.NewToken()[:16],
		MasterARN: testMasterARN}
	pending := user.Clone()
	pending.Password = "pending-" + rotationtest.NewToken()[:16]
	master := secret.Value{Engine: Engine, Host: "127.0.0.1", Port: port, Username: "cn=admin,dc=x", Password: "master-" + rotationtest.NewToken()[:16]}
	none := loader(secret.Value{}, false)
	_, err := NewAdmin(cfg).Set(t.Context(), rotators.SetRequest{Current: user, Pending: pending, Previous: none, Master: loader(master, true)})
	if err == nil {
		t.Fatal("setSecret succeeded against a server that refuses every Modify")
	}
	if !strings.Contains(err.Error(), "constraint violation") {
		t.Fatalf("the error does not carry the server's message: %v", err)
	}
	// 36 bytes of SHA-1 and salt are 48 characters of base64.
	if strings.Contains(err.Error(), "{SSHA}") || regexp.MustCompile(`[A-Za-z0-9+/]{40,}`).MatchString(err.Error()) {
		t.Fatalf("the error holds the new password's hash: %v", err)
	}
}
