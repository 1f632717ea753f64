package ldap

import (
	"bytes"
	"errors"
	"net"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

func TestADPassword(t *testing.T) {
	// [MS-ADTS] example: the password newPassword is sent as "newPassword"
	// in UTF-16LE, 26 bytes.
	want := []byte{'"', 0, 'n', 0, 'e', 0, 'w', 0, 'P', 0, 'a', 0, 's', 0, 's', 0, 'w', 0, 'o', 0, 'r', 0, 'd', 0, '"', 0}
	if got := ADPassword("newPassword"); !bytes.Equal(got, want) {
		t.Fatalf("ADPassword = % x, want % x", got, want)
	}
	// Outside the BMP: a surrogate pair.
	if got := ADPassword("\U0001F511"); !bytes.Equal(got, []byte{'"', 0, 0x3d, 0xd8, 0x11, 0xdd, '"', 0}) {
		t.Fatalf("ADPassword(key emoji) = % x", got)
	}
}

// wireModify sends req through a go-ldap client and returns the
// ModifyRequest packet as the server reads it.
func wireModify(t *testing.T, req *goldap.ModifyRequest) *ber.Packet {
	t.Helper()
	client, server := net.Pipe()
	c := goldap.NewConn(client, true) // marked TLS: go-ldap needs nothing else here
	c.Start()
	t.Cleanup(func() { c.Close(); server.Close() })
	go func() { _ = c.Modify(req) }()
	p, err := ber.ReadPacket(server)
	if err != nil {
		t.Fatalf("read request: %v", err)
	}
	if len(p.Children) < 2 || p.Children[1].Tag != goldap.ApplicationModifyRequest {
		t.Fatalf("not a ModifyRequest")
	}
	return p.Children[1]
}

// change is one decoded change of a ModifyRequest.
type change struct {
	op    int64
	attr  string
	value []byte
}

func changes(t *testing.T, mod *ber.Packet) (string, []change) {
	t.Helper()
	dn := mod.Children[0].Data.String()
	var out []change
	for _, ch := range mod.Children[1].Children {
		op := ch.Children[0].Value.(int64)
		attr := ch.Children[1]
		vals := attr.Children[1].Children
		if len(vals) != 1 {
			t.Fatalf("%d values, want 1", len(vals))
		}
		out = append(out, change{op: op, attr: attr.Children[0].Data.String(), value: vals[0].Data.Bytes()})
	}
	return dn, out
}

func TestADChangeRequestOnTheWire(t *testing.T) {
	req, err := ADChangeRequest("CN=App Svc,OU=Service Accounts,DC=corp,DC=example", "old-pw", "new-pw")
	if err != nil {
		t.Fatal(err)
	}
	dn, got := changes(t, wireModify(t, req))
	if dn != "CN=App Svc,OU=Service Accounts,DC=corp,DC=example" {
		t.Fatalf("dn = %q", dn)
	}
	want := []change{
		{op: goldap.DeleteAttribute, attr: "unicodePwd", value: ADPassword("old-pw")},
		{op: goldap.AddAttribute, attr: "unicodePwd", value: ADPassword("new-pw")},
	}
	if len(got) != len(want) {
		t.Fatalf("%d changes, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].op != want[i].op || got[i].attr != want[i].attr || !bytes.Equal(got[i].value, want[i].value) {
			t.Errorf("change %d = {%d %s % x}, want {%d %s % x}", i, got[i].op, got[i].attr, got[i].value, want[i].op, want[i].attr, want[i].value)
		}
	}
}

func TestADResetRequestOnTheWire(t *testing.T) {
	req, err := ADResetRequest("cn=app,dc=corp", "new-pw")
	if err != nil {
		t.Fatal(err)
	}
	_, got := changes(t, wireModify(t, req))
	if len(got) != 1 || got[0].op != goldap.ReplaceAttribute || got[0].attr != "unicodePwd" || !bytes.Equal(got[0].value, ADPassword("new-pw")) {
		t.Fatalf("changes = %+v, want one replace of unicodePwd", got)
	}
}

func TestADRequestsRefuseHostileDN(t *testing.T) {
	for _, dn := range []string{`CN=a\,OU=Domain Admins,DC=corp`, "CN=*,DC=corp", "CN=a\x00,DC=corp"} {
		if _, err := ADChangeRequest(dn, "a", "b"); !errors.Is(err, ErrHostileDN) {
			t.Errorf("ADChangeRequest(%q): %v, want ErrHostileDN", dn, err)
		}
		if _, err := ADResetRequest(dn, "b"); !errors.Is(err, ErrHostileDN) {
			t.Errorf("ADResetRequest(%q): %v, want ErrHostileDN", dn, err)
		}
	}
}
