package audit_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/shared/audit"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestBadInputPerAccount: an account whose role cannot be assumed, an
// account whose listing is denied, a denied metadata call on one secret and a
// secret deleted during the scan each end as a finding (or a skip) for that
// account or secret, and every other secret is audited.
func TestBadInputPerAccount(t *testing.T) {
	const noRole = "333333333333"
	const denied = "444444444444"
	w := newWorld(t)
	w.admin[denied] = secretsmanager.NewFromConfig(w.aws.AWSConfig(w.aws.AddAccount(denied), region))
	w.aws.AddRole(localaws.Role{Account: denied, Name: roleName, TrustedAccounts: []string{home}, ExternalID: externalID})
	w.aws.AddAccount(noRole) // no role: AssumeRole is refused

	var arnsA []string
	for i := range 5 {
		arnsA = append(arnsA, w.clean(memberA, name(i, "a")))
	}
	gone := w.clean(memberB, "app/deleted-mid-scan")
	keptB := w.clean(memberB, "app/kept")
	w.clean(denied, "app/never-listed")

	w.aws.InjectFault(localaws.Fault{Operation: "ListSecrets", Account: denied, Kind: localaws.AccessDenied})
	w.aws.InjectFault(localaws.Fault{Operation: "GetResourcePolicy", Account: memberA, Kind: localaws.AccessDenied, Count: 1})

	sc := w.scanner(testConfig(), noRole, denied)
	deleted := false
	sc.Clients = hookClients{Clients: sc.Clients, afterList: func(account string) {
		if account != memberB {
			return
		}
		once(&deleted, func() {
			if _, err := w.admin[memberB].DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(gone), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
				t.Error(err)
			}
		})
	}}
	w.aws.ResetCalls()
	rep := sc.Run(t.Context())
	w.noValueRead()
	got := byARN(rep.Findings)

	unreachable := map[string]bool{}
	for _, f := range got[""] {
		if f.Check != audit.AccountUnreachable || f.Severity != audit.High {
			t.Errorf("account finding %+v, want %s/high", f, audit.AccountUnreachable)
		}
		unreachable[f.Account] = true
		t.Logf("%s %s: %s", f.Account, f.Check, f.Detail)
	}
	if !unreachable[noRole] || !unreachable[denied] || len(unreachable) != 2 {
		t.Errorf("unreachable accounts %v, want %s (no role) and %s (listing denied)", unreachable, noRole, denied)
	}
	if rep.Summary.AccountsFailed != 2 {
		t.Errorf("AccountsFailed = %d, want 2", rep.Summary.AccountsFailed)
	}
	unreadable := 0
	for _, a := range arnsA {
		for _, f := range got[a] {
			if f.Check == audit.SecretUnreadable {
				unreadable++
				t.Logf("%s: %s", f.Check, f.Detail)
			} else {
				t.Errorf("%s: unexpected %s", a, f.Check)
			}
		}
	}
	if unreadable != 1 {
		t.Errorf("%d secret-unreadable findings in %s, want 1 (one denied GetResourcePolicy)", unreadable, memberA)
	}
	if len(got[gone]) != 0 || len(got[keptB]) != 0 {
		t.Errorf("member B findings: deleted %v, kept %v; want none", got[gone], got[keptB])
	}
	if !deleted || rep.Summary.Vanished != 1 {
		t.Errorf("vanished = %d (deleted %v), want 1", rep.Summary.Vanished, deleted)
	}
	if rep.Summary.SecretsByAccount[memberA] != 5 || rep.Summary.SecretsByAccount[memberB] != 1 {
		t.Errorf("secrets by account %v, want 5 in A and 1 in B", rep.Summary.SecretsByAccount)
	}
}

// TestThrottlingMissesNothing: with 30 % of every call throttled, the SDK's
// retries (audit.Retryer) get every secret audited, with the same findings
// as without throttling.
func TestThrottlingMissesNothing(t *testing.T) {
	w := newWorld(t, localaws.Options{Seed: 7})
	for i := range 12 {
		for _, acct := range []string{home, memberA, memberB} {
			a := w.clean(acct, name(i, "t"))
			if i%3 == 0 {
				w.plant(acct, a, localaws.SecretState{KmsKeyID: "alias/aws/secretsmanager"})
			}
		}
	}
	calm := w.scanner(testConfig()).Run(t.Context())
	w.aws.InjectFault(localaws.Fault{Kind: localaws.Throttle, Probability: 0.3})
	w.aws.ResetCalls()
	sc := w.scanner(testConfig())
	sc.Config.Concurrency = 8
	stormy := sc.Run(t.Context())
	w.noValueRead()
	if stormy.Summary.Secrets != 36 || stormy.Summary.AccountsFailed != 0 {
		t.Fatalf("summary %+v, want 36 secrets, no failed account", stormy.Summary)
	}
	key := func(fs []audit.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.SecretARN+" "+string(f.Check))
		}
		slices.Sort(out)
		return out
	}
	if a, b := key(calm.Findings), key(stormy.Findings); !slices.Equal(a, b) || len(a) != 12 {
		t.Errorf("findings under throttling %v\nwithout %v (want 12 aws-managed-key)", b, a)
	}
	t.Logf("requests %d for 36 secrets (throttled ones included)", w.aws.TotalCalls())
}

// TestThrottledBeyondRetries: an account whose ListSecrets stays throttled
// past the SDK's attempts becomes account-unreachable, a secret whose policy
// read stays throttled becomes secret-unreadable, and the rest is audited.
func TestThrottledBeyondRetries(t *testing.T) {
	w := newWorld(t)
	w.clean(memberA, "app/a")
	throttled := w.clean(memberB, "app/b")
	w.clean(home, "app/h")
	w.aws.InjectFault(localaws.Fault{Operation: "ListSecrets", Account: memberA, Kind: localaws.Throttle})
	w.aws.InjectFault(localaws.Fault{Operation: "GetResourcePolicy", Account: memberB, Kind: localaws.Throttle})
	sc := w.scanner(testConfig())
	base := w.aws.AWSConfig(w.aws.DefaultCredentials(), region)
	base.Retryer = func() aws.Retryer { // the real retryer, with short waits
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.MaxBackoff = time.Millisecond
			o.RateLimiter = ratelimit.None
		})
	}
	sc.Clients = audit.AWSXClients{Clients: awsx.New(base, awsx.Config{Mode: awsx.ModeCentral, RoleName: roleName, ExternalID: externalID,
		AllowedAccounts: []string{memberA, memberB}, HomeAccount: home})}
	rep := sc.Run(t.Context())
	got := byARN(rep.Findings)
	if fs := got[""]; len(fs) != 1 || fs[0].Account != memberA || fs[0].Check != audit.AccountUnreachable {
		t.Errorf("account findings %+v, want %s unreachable", fs, memberA)
	}
	if fs := got[throttled]; len(fs) != 1 || fs[0].Check != audit.SecretUnreadable {
		t.Errorf("throttled secret: findings %+v, want secret-unreadable", fs)
	}
	if rep.Summary.SecretsByAccount[home] != 1 || rep.Summary.SecretsByAccount[memberB] != 1 {
		t.Errorf("secrets by account %v, want home and member B audited", rep.Summary.SecretsByAccount)
	}
}
