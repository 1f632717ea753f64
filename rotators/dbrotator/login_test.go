package dbrotator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestLoginChain: only a refused password moves on to the next version, and
// the chain stops at the first version that logs in.
func TestLoginChain(t *testing.T) {
	refused := fmt.Errorf("connect: %w", ErrAuth)
	network := errors.New("connection reset")
	type result struct {
		s   string
		err error
	}
	tests := []struct {
		name            string
		cur, pend, prev *result // nil prev: no Previous function
		wantS           string
		wantV           Version
		wantErr         []error
		wantMsg         string
		wantTried       int
	}{
		{name: "current works", cur: &result{s: "c"}, wantS: "c", wantV: Current, wantTried: 1},
		{name: "pending works", cur: &result{err: refused}, pend: &result{s: "p"}, wantS: "p", wantV: Pending, wantTried: 2},
		{name: "previous works", cur: &result{err: refused}, pend: &result{err: refused}, prev: &result{s: "v"}, wantS: "v", wantV: Previous, wantTried: 3},
		{name: "network error stops at current", cur: &result{err: network}, wantErr: []error{network}, wantMsg: "log in as current user", wantTried: 1},
		{name: "network error stops at pending", cur: &result{err: refused}, pend: &result{err: network}, wantErr: []error{network}, wantMsg: "log in as pending user", wantTried: 2},
		{name: "network error at previous", cur: &result{err: refused}, pend: &result{err: refused}, prev: &result{err: network}, wantErr: []error{network}, wantMsg: "log in as previous user", wantTried: 3},
		{name: "all refused", cur: &result{err: refused}, pend: &result{err: refused}, prev: &result{err: refused}, wantErr: []error{ErrNoCredential, ErrAuth}, wantMsg: "current, pending and previous", wantTried: 3},
		{name: "no previous function", cur: &result{err: refused}, pend: &result{err: refused}, wantErr: []error{ErrNoCredential, ErrAuth}, wantMsg: "current and pending passwords", wantTried: 2},
		{name: "previous not usable", cur: &result{err: refused}, pend: &result{err: refused}, prev: &result{err: NoPrevious("the previous secret is for another server")}, wantErr: []error{ErrNoCredential, ErrAuth}, wantMsg: "; the previous secret is for another server", wantTried: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tried := 0
			fn := func(r *result) func(context.Context) (string, error) {
				return func(context.Context) (string, error) {
					tried++
					if r == nil {
						t.Fatal("tried a version the chain should not reach")
					}
					return r.s, r.err
				}
			}
			l := Logins[string]{User: "app", Current: fn(tt.cur), Pending: fn(tt.pend)}
			if tt.prev != nil {
				l.Previous = fn(tt.prev)
			}
			s, v, err := LoginChain(t.Context(), l)
			if tried != tt.wantTried {
				t.Errorf("%d logins tried, want %d", tried, tt.wantTried)
			}
			if tt.wantErr == nil {
				if err != nil || s != tt.wantS || v != tt.wantV {
					t.Fatalf("got %q, %d, %v; want %q, %d", s, v, err, tt.wantS, tt.wantV)
				}
				return
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("error %v does not wrap %v", err, want)
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %v does not say %q", err, tt.wantMsg)
			}
		})
	}
}

func TestCounters(t *testing.T) {
	var c Counters
	_ = c.Login(nil)
	if err := c.Login(ErrAuth); err != ErrAuth {
		t.Fatalf("Login returned %v, want its argument", err)
	}
	c.Retry()
	if got, want := c.Stats(), (Stats{Logins: 2, FailedLogins: 1, Retries: 1}); got != want {
		t.Fatalf("Stats() = %+v, want %+v", got, want)
	}
}
