package dbtest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// FaultProxy is a TCP proxy in front of a database server that can drop a
// connection at a chosen moment: after forwarding the client's bytes that
// contain a trigger (say "ALTER ROLE"), it closes both sides before the server's
// answer reaches the client. The server still runs the statement; the client
// sees a broken connection. This reproduces "the password changed but the
// rotation function never heard back".
//
// The proxy sees plaintext only: use it with connections that do not use TLS.
type FaultProxy struct {
	Addr string // host:port clients connect to

	target  string
	ln      net.Listener
	mu      sync.Mutex
	trigger []byte
	fired   atomic.Int32
	conns   atomic.Int32
	wg      sync.WaitGroup
}

// NewFaultProxy listens on a free loopback port and forwards to target.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("dbtest: fault proxy listen: %v", err)
	}
	p := &FaultProxy{Addr: ln.Addr().String(), target: target, ln: ln}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.wg.Wait()
	})
	return p
}

// DropAfter arms the proxy: the next client chunk containing trigger is
// forwarded, then that connection is closed. It fires once.
func (p *FaultProxy) DropAfter(trigger string) {
	p.mu.Lock()
	p.trigger = []byte(trigger)
	p.mu.Unlock()
}

// Fired reports how many connections the proxy has dropped.
func (p *FaultProxy) Fired() int { return int(p.fired.Load()) }

// Connections reports how many client connections the proxy accepted.
func (p *FaultProxy) Connections() int { return int(p.conns.Load()) }

func (p *FaultProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *FaultProxy) handle(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { // server -> client
		_, _ = io.Copy(client, server)
		done <- struct{}{}
	}()
	go func() { // client -> server, watching for the trigger
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				chunk := buf[:n]
				drop := p.take(chunk)
				if _, werr := server.Write(chunk); werr != nil {
					break
				}
				if drop {
					// Let the server read the statement, then cut both sides
					// before its answer is relayed.
					if tc, ok := server.(*net.TCPConn); ok {
						_ = tc.CloseWrite()
					}
					_ = client.Close()
					break
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					_ = server.Close()
				}
				break
			}
		}
		done <- struct{}{}
	}()
	<-done
}

// take reports whether chunk fires the armed trigger, disarming it if so.
func (p *FaultProxy) take(chunk []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.trigger) == 0 || !bytes.Contains(chunk, p.trigger) {
		return false
	}
	p.trigger = nil
	p.fired.Add(1)
	return true
}
