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

// FaultProxy is a TCP proxy in front of a database server that cuts a
// connection at a chosen statement: before the statement reaches the server,
// or right after it was sent and before the server's answer reaches the client
// ("the password changed but the rotation function never heard back"). It can
// also run a hook at that moment instead (to kill the function process
// mid-statement).
//
// The proxy sees plaintext only: use it with connections that do not use TLS.
type FaultProxy struct {
	Addr string // host:port clients connect to

	target string
	ln     net.Listener
	mu     sync.Mutex
	trig   []byte
	when   When
	hook   func()
	fired  atomic.Int32
	conns  atomic.Int32
	wg     sync.WaitGroup
}

// When says when an armed fault fires, relative to the client's chunk that
// holds the trigger.
type When int

// When values.
const (
	// Before drops the connection without forwarding the chunk: the server
	// never sees the statement.
	Before When = iota + 1
	// After forwards the chunk, then drops the connection before the answer
	// (or, with a hook, runs the hook and keeps the connection).
	After
)

// NewFaultProxy listens on a free loopback port and forwards to target; it
// stops when t ends.
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

// Arm makes the next client chunk containing trigger fire once, as when says;
// hook, if not nil, replaces the drop of After. It returns a counter of the
// times this arming fired (0 or 1).
func (p *FaultProxy) Arm(trigger string, when When, hook func()) func() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trig, p.when, p.hook = []byte(trigger), when, hook
	base := p.fired.Load()
	return func() int { return int(p.fired.Load() - base) }
}

// DropAfter arms the proxy: the next client chunk containing trigger is
// forwarded, then that connection is closed. It fires once.
func (p *FaultProxy) DropAfter(trigger string) { p.Arm(trigger, After, nil) }

// Fired reports how many times the proxy has fired.
func (p *FaultProxy) Fired() int { return int(p.fired.Load()) }

// Connections reports how many client connections the proxy accepted.
func (p *FaultProxy) Connections() int { return int(p.conns.Load()) }

func (p *FaultProxy) take(chunk []byte) (When, func(), bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.trig) == 0 || !bytes.Contains(chunk, p.trig) {
		return 0, nil, false
	}
	w, h := p.when, p.hook
	p.trig, p.hook = nil, nil
	p.fired.Add(1)
	return w, h, true
}

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
	// cut is set before a statement that fires After is forwarded: from then
	// on nothing the server sends reaches the client, however fast it answers.
	var cut atomic.Bool
	go func() { // server -> client
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && !cut.Load() {
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // client -> server, watching for the trigger
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				chunk := buf[:n]
				when, hook, fire := p.take(chunk)
				if fire && when == Before {
					_ = server.Close()
					_ = client.Close()
					return
				}
				if fire && hook == nil {
					cut.Store(true)
				}
				if _, werr := server.Write(chunk); werr != nil {
					return
				}
				if fire && hook != nil {
					hook()
				} else if fire {
					// Let the server read the statement, then cut both sides
					// before its answer is relayed.
					if tc, ok := server.(*net.TCPConn); ok {
						_ = tc.CloseWrite()
					}
					_ = client.Close()
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					_ = server.Close()
				}
				return
			}
		}
	}()
	<-done
}
