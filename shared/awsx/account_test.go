package awsx

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestLocation(t *testing.T) {
	tests := []struct {
		account, region string
		want            SecretLocation
		wantErr         bool
	}{
		{account: member1, region: "eu-west-1", want: SecretLocation{"aws", "eu-west-1", member1}},
		{account: member1, region: "cn-north-1", want: SecretLocation{"aws-cn", "cn-north-1", member1}},
		{account: member1, region: "us-gov-west-1", want: SecretLocation{"aws-us-gov", "us-gov-west-1", member1}},
		{account: member1, region: "us-iso-east-1", want: SecretLocation{"aws-iso", "us-iso-east-1", member1}},
		{account: member1, region: "us-isob-east-1", want: SecretLocation{"aws-iso-b", "us-isob-east-1", member1}},
		{account: member1, region: "eu-isoe-west-1", want: SecretLocation{"aws-iso-e", "eu-isoe-west-1", member1}},
		{account: member1, region: "us-isof-south-1", want: SecretLocation{"aws-iso-f", "us-isof-south-1", member1}},
		{account: member1, region: "eusc-de-east-1", want: SecretLocation{"aws-eusc", "eusc-de-east-1", member1}},
		{account: "1234", region: "eu-west-1", wantErr: true},
		{account: member1, region: "eu-west-1.evil.example", wantErr: true},
		{account: member1, region: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := Location(tt.account, tt.region)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Location(%q, %q) = %+v, %v; want %+v, error %v", tt.account, tt.region, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestAccountChecksLikeSecretsManager: Account refuses exactly what
// SecretsManager refuses, before any STS call, and a malformed location
// without building a role ARN.
func TestAccountChecksLikeSecretsManager(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		loc  SecretLocation
	}{
		{name: "account mode, other account", cfg: Config{Mode: ModeAccount, HomeAccount: home}, loc: SecretLocation{"aws", "eu-west-1", member1}},
		{name: "central, not in list", cfg: Config{Mode: ModeCentral, HomeAccount: home, AllowedAccounts: []string{member1}}, loc: SecretLocation{"aws", "eu-west-1", outside}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSTSFake(t, home, "")
			c := New(f.config(), tt.cfg)
			_, err := c.Account(t.Context(), tt.loc, token)
			if !errors.Is(err, ErrAccountNotAllowed) {
				t.Fatalf("Account error = %v, want ErrAccountNotAllowed", err)
			}
			_, smErr := c.SecretsManager(t.Context(), secretARN(tt.loc.Account, tt.loc.Region), token)
			if smErr == nil || smErr.Error() != err.Error() {
				t.Errorf("SecretsManager error = %v, want the same as Account's (%v)", smErr, err)
			}
			if got := f.total(); got != 0 {
				t.Errorf("STS calls = %d, want 0", got)
			}
		})
	}
	f := newSTSFake(t, home, "")
	c := New(f.config(), Config{Mode: ModeCentral, HomeAccount: home, AllowAnyAccount: true, OrgID: "o-abcdef1234"})
	for _, loc := range []SecretLocation{{"", "eu-west-1", member1}, {"aws", "eu-west-1.evil", member1}, {"aws", "eu-west-1", "12345"}, {"evil", "eu-west-1", member1}} {
		if _, err := c.Account(t.Context(), loc, token); err == nil {
			t.Errorf("Account(%+v) accepted", loc)
		}
	}
	if got := f.total(); got != 0 {
		t.Errorf("STS calls for malformed locations = %d, want 0", got)
	}
}

// TestAccountSharesTheRoleCredentials: the per-account path and the
// Secrets Manager path of one member account use one credentials cache, so
// a rotation's SecretsManager call, its ElastiCache or IAM client and the
// audit together assume the role once; the home account uses the base
// credentials and assumes nothing.
func TestAccountSharesTheRoleCredentials(t *testing.T) {
	f := newSTSFake(t, home, extID)
	c := New(f.config(), Config{Mode: ModeCentral, HomeAccount: home, AllowedAccounts: []string{member1}, ExternalID: extID, FunctionName: "rotary-central"})
	sm, err := c.SecretsManager(t.Context(), secretARN(member1, "eu-west-1"), token)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := Location(member1, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		a, err := c.Account(t.Context(), loc, "")
		if err != nil {
			t.Fatal(err)
		}
		if a.Credentials != sm.Options().Credentials {
			t.Fatal("Account's credentials are not the Secrets Manager client's credentials cache")
		}
		if a.SecretsManager() != sm {
			t.Error("Account.SecretsManager is not the cached client of SecretsManager")
		}
		cfg := a.Config()
		if cfg.Region != "eu-west-1" || cfg.Credentials != a.Credentials {
			t.Errorf("Config: region %q, credentials %T; want eu-west-1 and the role's cache", cfg.Region, cfg.Credentials)
		}
	}
	if got := f.count("AssumeRole:" + member1); got != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", got)
	}

	h, err := c.Account(t.Context(), SecretLocation{"aws", "us-east-1", home}, "")
	if err != nil {
		t.Fatal(err)
	}
	if h.Credentials != nil {
		t.Errorf("home account credentials = %T, want nil (the base configuration's)", h.Credentials)
	}
	creds, err := h.Config().Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != "AKIAHOME0000000000" {
		t.Errorf("home account key = %q, %v; want the base credentials", creds.AccessKeyID, err)
	}
	if h.Config().Region != "us-east-1" {
		t.Errorf("home account region = %q, want us-east-1", h.Config().Region)
	}
	if got := f.count("AssumeRole:" + home); got != 0 {
		t.Errorf("AssumeRole calls for the home account = %d, want 0", got)
	}
}

// TestSessionNames: every path names the session rotary.<function>[.<first
// characters of the ClientRequestToken>]: the rotation's token when one is
// given, the function alone otherwise; never a made-up label.
func TestSessionNames(t *testing.T) {
	f := newSTSFake(t, home, "")
	c := New(f.config(), Config{Mode: ModeCentral, HomeAccount: home, AllowedAccounts: []string{member1, member2}, FunctionName: "rotary-audit"})
	if _, err := c.Account(t.Context(), SecretLocation{"aws", "eu-west-1", member1}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Account(t.Context(), SecretLocation{"aws", "eu-west-1", member2}, token); err != nil {
		t.Fatal(err)
	}
	want := []string{"rotary.rotary-audit", "rotary.rotary-audit." + token[:8]}
	if strings.Join(f.sessions, " ") != strings.Join(want, " ") {
		t.Errorf("session names %q, want %q", f.sessions, want)
	}
}

// TestClientCache: one client per location, built on first need; a
// refused account never reaches the cache.
func TestClientCache(t *testing.T) {
	f := newSTSFake(t, home, "")
	c := New(f.config(), Config{Mode: ModeCentral, HomeAccount: home, AllowedAccounts: []string{member1}})
	var cc ClientCache[*aws.Config]
	build := func(cfg aws.Config) *aws.Config { return &cfg }
	for range 3 {
		for _, l := range []SecretLocation{{"aws", "eu-west-1", member1}, {"aws", "us-east-1", member1}, {"aws", "eu-west-1", home}} {
			a, err := c.Account(t.Context(), l, token)
			if err != nil {
				t.Fatal(err)
			}
			if got := cc.Get(a, build); got.Region != l.Region {
				t.Errorf("client of %+v has region %q", l, got.Region)
			}
		}
	}
	if got := cc.Builds(); got != 3 {
		t.Errorf("builds = %d, want 3 (one per location)", got)
	}
	if _, err := c.Account(t.Context(), SecretLocation{"aws", "eu-west-1", outside}, token); !errors.Is(err, ErrAccountNotAllowed) {
		t.Fatalf("outside account: %v, want ErrAccountNotAllowed", err)
	}
	if got := f.count("AssumeRole:" + member1); got != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", got)
	}
}

// TestClientCacheKeepsAccountsApart: two member accounts in one region and
// the home account there each get their own client, built with their own
// credentials (the member role's cache of that account, the base
// credentials at home), however the calls interleave; an Account of one
// location never returns the client cached for another.
func TestClientCacheKeepsAccountsApart(t *testing.T) {
	f := newSTSFake(t, home, "")
	c := New(f.config(), Config{Mode: ModeCentral, HomeAccount: home, AllowedAccounts: []string{member1, member2}})
	var cc ClientCache[*aws.Config]
	build := func(cfg aws.Config) *aws.Config { return &cfg }
	locs := []SecretLocation{{"aws", "eu-west-1", member1}, {"aws", "eu-west-1", member2}, {"aws", "eu-west-1", home}, {"aws-cn", "cn-north-1", member1}}
	got := map[SecretLocation]*aws.Config{}
	for i := range 3 {
		for j := range locs {
			l := locs[(i+j)%len(locs)]
			a, err := c.Account(t.Context(), l, token)
			if err != nil {
				t.Fatal(err)
			}
			cl := cc.Get(a, build)
			if a.Credentials == nil {
				if l.Account != home {
					t.Fatalf("%+v: no role credentials for a member account", l)
				}
				if k, err := cl.Credentials.Retrieve(t.Context()); err != nil || k.AccessKeyID != "AKIAHOME0000000000" {
					t.Errorf("%+v: home client key %q, %v; want the base credentials", l, k.AccessKeyID, err)
				}
			} else if cl.Credentials != a.Credentials {
				t.Errorf("%+v: the cached client holds another account's credentials", l)
			}
			if cl.Region != l.Region {
				t.Errorf("%+v: the cached client is for region %q", l, cl.Region)
			}
			got[l] = cl
		}
	}
	if got[locs[0]] == got[locs[1]] || got[locs[0]] == got[locs[2]] || got[locs[1]] == got[locs[2]] || got[locs[0]] == got[locs[3]] {
		t.Error("two accounts share one cached client")
	}
	if n := cc.Builds(); n != len(locs) {
		t.Errorf("builds = %d, want %d (one per location)", n, len(locs))
	}
}
