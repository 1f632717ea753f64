package mysql

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
)

// chunkConn serves data in chunks of at most n bytes.
type chunkConn struct {
	net.Conn
	data []byte
	n    int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

func (c *chunkConn) Close() error { return nil }

func packet(seq byte, payload ...byte) []byte {
	return append([]byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}, payload...)
}

// readAll reads through an authGuard until an error, returning what it
// passed on and whether it refused.
func readAll(data []byte, chunk int) ([]byte, bool) {
	var refused atomic.Bool
	g := &authGuard{Conn: &chunkConn{data: data, n: max(chunk, 1)}, refused: &refused}
	var out []byte
	buf := make([]byte, 7)
	for {
		n, err := g.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if errors.Is(err, ErrInsecureAuth) != refused.Load() {
				panic("refusal and error disagree")
			}
			return out, refused.Load()
		}
	}
}

func TestAuthGuard(t *testing.T) {
	greeting := packet(0, 10, '8', 0)
	tests := []struct {
		name    string
		packets [][]byte
		refused bool
	}{
		{name: "native OK", packets: [][]byte{packet(2, 0, 0, 0, 2, 0)}},
		{name: "switch to ed25519", packets: [][]byte{packet(2, append([]byte{0xfe}, "client_ed25519\x00abc"...)...), packet(4, 0, 0, 0)}},
		{name: "caching_sha2 fast path", packets: [][]byte{packet(2, 1, 3), packet(3, 0, 0, 0)}},
		{name: "access denied", packets: [][]byte{packet(2, 0xff, 0x15, 0x04)}},
		{name: "switch to cleartext", packets: [][]byte{packet(2, append([]byte{0xfe}, "mysql_clear_password\x00"...)...)}, refused: true},
		{name: "switch to sha256", packets: [][]byte{packet(2, append([]byte{0xfe}, "sha256_password\x00x"...)...)}, refused: true},
		{name: "caching_sha2 full authentication", packets: [][]byte{packet(2, 1, 4)}, refused: true},
		{name: "public key", packets: [][]byte{packet(2, append([]byte{1}, "-----BEGIN PUBLIC KEY-----"...)...)}, refused: true},
		{name: "old password switch", packets: [][]byte{packet(2, 0xfe)}, refused: true},
		{name: "after OK anything goes", packets: [][]byte{packet(2, 0, 0, 0), packet(1, 1, 4)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := greeting
			for _, p := range tc.packets {
				data = append(data, p...)
			}
			for _, chunk := range []int{1, 3, len(data)} {
				_, refused := readAll(data, chunk)
				if refused != tc.refused {
					t.Fatalf("chunks of %d: refused = %v, want %v", chunk, refused, tc.refused)
				}
			}
		})
	}
}

// FuzzAuthGuard: whatever the server sends, however it is split, the guard
// never passes on a complete authentication packet the driver would answer
// by revealing the password.
func FuzzAuthGuard(f *testing.F) {
	f.Add([]byte("\x03\x00\x00\x00\x0a8\x00\x02\x00\x00\x02\x01\x04"), uint8(1))
	f.Add([]byte("\x03\x00\x00\x00\x0a8\x00\x07\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		out, _ := readAll(data, int(chunk))
		for n := 0; len(out) >= 4; n++ {
			size := int(out[0]) | int(out[1])<<8 | int(out[2])<<16
			if len(out) < 4+size {
				break
			}
			pkt := out[4 : 4+size]
			if n > 0 {
				if !allowedAuthPacket(pkt) {
					t.Fatalf("packet %d (%x) passed on", n, pkt)
				}
				if pkt[0] == 0 || pkt[0] == 0xff {
					break
				}
			}
			out = out[4+size:]
		}
	})
}
