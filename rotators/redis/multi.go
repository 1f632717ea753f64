package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/password"
)

// CloneSuffix is appended to the user name for the alternate user.
const CloneSuffix = "_clone"

// More sentinel errors, for errors.Is.
var (
	// ErrNoMaster: alternating users needs a master secret with host.
	ErrNoMaster = errors.New("redis: alternating users needs a master secret (masterarn) with host")
	// ErrEndpointMismatch: the master secret names another server than the
	// user secret; the master credential is not sent.
	ErrEndpointMismatch = errors.New("redis: the user secret does not name the master secret's server")
	// ErrNotAClone: an existing alternate user is not exactly a copy of the
	// original's rules; it is left untouched.
	ErrNotAClone = errors.New("redis: the existing alternate user is not a clone of the original")
	// ErrNotAlternate: the pending user is not the current one's alternate.
	ErrNotAlternate = errors.New("redis: the pending user is not the current user's alternate")
	// ErrNoOriginal: the original user does not exist on the server.
	ErrNoOriginal = errors.New("redis: the original user does not exist")
)

// MultiUser is the alternating-users rotator: the master user sets the
// password of the user the current one alternates with, creating the
// <user>_clone user with the original's ACL rules (commands, keys, channels,
// selectors) on first use. Each user holds exactly one password.
type MultiUser struct {
	cfg   Config
	inner *Rotator // login and counters
}

var _ rotators.Rotator = (*MultiUser)(nil)

// NewMultiUser returns the alternating-users rotator with cfg.
func NewMultiUser(cfg Config) *MultiUser {
	in := New(cfg)
	return &MultiUser{cfg: in.cfg, inner: in}
}

// Stats returns the rotator's login counters.
func (m *MultiUser) Stats() Stats { return m.inner.Stats() }

// altUser returns the other user of an alternating pair.
func altUser(name string) string {
	if base, ok := strings.CutSuffix(name, CloneSuffix); ok && base != "" {
		return base
	}
	return name + CloneSuffix
}

// baseUser returns the original user of the pair name belongs to.
func baseUser(name string) string {
	if base, ok := strings.CutSuffix(name, CloneSuffix); ok && base != "" {
		return base
	}
	return name
}

// Create returns the alternate user with a new password; nothing changes on
// the server.
func (m *MultiUser) Create(ctx context.Context, req rotators.CreateRequest) (rotators.CreateResponse, error) {
	if _, err := target(req.Current); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: %w", err)
	}
	alt := altUser(req.Current.Username)
	if err := checkUsername(alt); err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: alternate user: %w", err)
	}
	gen := req.Passwords
	if gen == nil {
		gen = password.Local{}
	}
	pw, err := gen.Generate(ctx, m.cfg.Passwords)
	if err != nil {
		return rotators.CreateResponse{}, fmt.Errorf("createSecret: generate password: %w", err)
	}
	pending := req.Current.Clone()
	pending.Username, pending.Password = alt, pw
	// The single-user records name passwords of one user; after a switch of
	// strategy they would be stale.
	pending.Delete(KeyReplacesSHA256)
	pending.Delete(KeyRetiresSHA256)
	return rotators.CreateResponse{Pending: pending}, nil
}

// Set gives the pending user exactly the pending password (ACL SETUSER
// resetpass #<sha256>), as the master user, after checking that the current
// credentials log in. A new clone gets the original's rules; an existing one
// must already have exactly them. Safe to call twice.
func (m *MultiUser) Set(ctx context.Context, req rotators.SetRequest) (rotators.SetResponse, error) {
	ep, err := target(req.Current)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	pep, err := target(req.Pending)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	if pep.user != altUser(ep.user) {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", ErrNotAlternate)
	}
	pep.user = ep.user
	if pep != ep {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w: the versions name different servers or TLS settings", ErrBadEndpoint)
	}
	master, ok, err := req.Master(ctx)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: read master secret: %w", err)
	}
	if !ok || master.Host == "" {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", ErrNoMaster)
	}
	mv := master.Clone()
	mv.Engine = Engine
	mep, err := target(mv)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: master secret: %w", err)
	}
	if !strings.EqualFold(mep.host, ep.host) || mep.port != ep.port {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", ErrEndpointMismatch)
	}
	// The current credentials must log in: the secret owns its user.
	cc, err := m.inner.login(ctx, ep, req.Current.Password)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: current credentials: %w", err)
	}
	_ = cc.Close()
	c, err := m.inner.login(ctx, mep, master.Password)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: master credentials: %w", err)
	}
	defer c.Close()
	users, err := aclRules(ctx, c)
	if err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	base := baseUser(ep.user)
	orig, ok := users[base]
	if !ok {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", ErrNoOriginal)
	}
	who := req.Pending.Username
	rules := []string{"resetpass", "#" + hashOf(req.Pending.Password)}
	if who != base {
		if have, exists := users[who]; exists && !slices.Equal(have, orig) {
			return rotators.SetResponse{}, fmt.Errorf("setSecret: %w: delete it or give it the original's rules", ErrNotAClone)
		}
		rules = append(append([]string{"reset"}, orig...), rules...)
	}
	if err := c.ACLSetUser(ctx, who, rules...).Err(); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: ACL SETUSER %s: %w", who, clean(err))
	}
	if err := save(ctx, c); err != nil {
		return rotators.SetResponse{}, fmt.Errorf("setSecret: %w", err)
	}
	return rotators.SetResponse{}, nil
}

// Test logs in as the pending user. It changes nothing.
func (m *MultiUser) Test(ctx context.Context, req rotators.TestRequest) (rotators.TestResponse, error) {
	return m.inner.Test(ctx, req)
}

// aclRules reads ACL LIST: each user's rules without its passwords.
func aclRules(ctx context.Context, c *goredis.Client) (map[string][]string, error) {
	lines, err := c.ACLList(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("ACL LIST: %w", clean(err))
	}
	out := make(map[string][]string, len(lines))
	for _, line := range lines {
		toks := splitRules(line)
		if len(toks) < 2 || toks[0] != "user" {
			continue
		}
		var rules []string
		for _, tk := range toks[2:] {
			if tk == "nopass" || tk == "resetpass" || strings.HasPrefix(tk, "#") || strings.HasPrefix(tk, ">") {
				continue
			}
			rules = append(rules, tk)
		}
		out[toks[1]] = rules
	}
	return out, nil
}

// splitRules splits an ACL LIST line at spaces outside parentheses, so a
// selector "(~k* +get)" stays one rule.
func splitRules(line string) []string {
	var out []string
	depth, start := 0, -1
	for i, ch := range line {
		switch {
		case ch == '(':
			depth++
		case ch == ')' && depth > 0:
			depth--
		}
		if ch == ' ' && depth == 0 {
			if start >= 0 {
				out = append(out, line[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, line[start:])
	}
	return out
}
