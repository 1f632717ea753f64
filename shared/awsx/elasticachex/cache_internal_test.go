package elasticachex

import (
	"context"
	"testing"

	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestOneClientPerAccountAndRegion: a warm container builds one ElastiCache
// client per account and region, whatever the number of calls, and assumes
// a member role once, its session named after the function and the
// rotation's ClientRequestToken; each call still checks the account first.
func TestOneClientPerAccountAndRegion(t *testing.T) {
	const home, member, region, fn = localaws.DefaultAccount, "222222222222", "eu-west-1", "rotary-central"
	s := localaws.Start(t)
	s.AddAccount(member)
	s.AddRole(localaws.Role{Account: member, Name: awsx.DefaultRoleName, TrustedAccounts: []string{home}})
	for _, acct := range []string{home, member} {
		s.AddElastiCacheUser(localaws.ElastiCacheUser{Account: acct, Region: region, UserID: "app-user", UserName: "app",
			Apply: func(context.Context, string, []string) error { return nil }}, 1)
	}
	clients := awsx.New(s.AWSConfig(s.DefaultCredentials(), region), awsx.Config{Mode: awsx.ModeCentral, AllowedAccounts: []string{member}, HomeAccount: home, FunctionName: fn})
	u := New(clients)
	s.ResetCalls()
	s.ResetRequestLog()
	for range 5 {
		for _, acct := range []string{home, member} {
			arn := "arn:aws:secretsmanager:" + region + ":" + acct + ":secret:app/cache-AbCdEf"
			if _, err := u.DescribeUser(t.Context(), arn, "token-1", "app-user"); err != nil {
				t.Fatal(err)
			}
			if err := u.SetPasswords(t.Context(), arn, "token-1", "app-user", []string{"pending-Password-00001"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := u.cache.Builds(); got != 2 {
		t.Errorf("ElastiCache clients built = %d, want 2 (one per account and region)", got)
	}
	if got := s.Calls("AssumeRole", ""); got != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", got)
	}
	if got := s.Calls("ModifyUser", member); got != 5 {
		t.Errorf("ModifyUser calls in the member = %d, want 5", got)
	}
	var seen int
	for _, req := range s.RequestLog() {
		if req.RoleARN == "" {
			continue
		}
		seen++
		if want := awsx.SessionName(fn, "token-1"); req.Session != want {
			t.Errorf("%s by session %q, want %q", req.Action, req.Session, want)
		}
	}
	if seen == 0 {
		t.Error("no request of the member role was logged")
	}
}
