package chaos

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a TCP proxy in front of a database server that cuts a connection at
// a chosen statement, before it reaches the server or right after it was sent
// (dbtest.FaultProxy does only the latter), and can run a hook at that moment
// instead (to kill the function process mid-statement). It sees plaintext
// only: secrets routed through it say "ssl": false.
type Proxy struct {
	Addr string // 127.0.0.1:port clients connect to

	target string
	ln     net.Listener
	mu     sync.Mutex
	trig   []byte
	when   When
	hook   func()
	fired  atomic.Int32
	wg     sync.WaitGroup
}

// NewProxy listens on a free loopback port and forwards to target; it stops
// when t ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("chaos: proxy listen: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.wg.Wait()
	})
	return p
}

// Arm makes the next client chunk containing trigger fire once: Before drops
// the connection without forwarding it, After forwards it then drops the
// connection before the answer. With a hook, After forwards the chunk, runs
// the hook and keeps the connection. It returns the fired counter.
func (p *Proxy) Arm(trigger string, when When, hook func()) func() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trig, p.when, p.hook = []byte(trigger), when, hook
	base := p.fired.Load()
	return func() int { return int(p.fired.Load() - base) }
}

func (p *Proxy) take(chunk []byte) (When, func(), bool) {
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

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *Proxy) handle(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(client, server)
		done <- struct{}{}
	}()
	go func() {
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
				if _, werr := server.Write(chunk); werr != nil {
					return
				}
				if fire && hook != nil {
					hook()
				} else if fire {
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
