package rig

import (
	"slices"
	"strings"
	"sync"
)

// Planted is a set of secret values a test planted or saw (passwords, API
// keys, tokens), to look for them in logs and errors. Its zero value is
// empty and ready; it is safe for concurrent use.
type Planted struct {
	mu     sync.Mutex
	values []string
}

// Add remembers each non-empty value of vs.
func (p *Planted) Add(vs ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range vs {
		if v != "" && !slices.Contains(p.values, v) {
			p.values = append(p.values, v)
		}
	}
}

// Find reports the first remembered value text holds: its number (from 1, in
// the order added) and its length, never the value; n is 0 when text holds
// none.
func (p *Planted) Find(text string) (n, length int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, v := range p.values {
		if strings.Contains(text, v) {
			return i + 1, len(v)
		}
	}
	return 0, 0
}
