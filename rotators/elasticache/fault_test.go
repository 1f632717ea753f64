package elasticache_test

import (
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/elasticache"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// TestModifyUserAnswerLost is the chaos fault point after the password
// change: ElastiCache applies setSecret's ModifyUser, then its answer is lost
// (HTTP 500, which the SDK retries). Lambda retries the failed step as well.
// Whatever the retries do, the user ends holding exactly the AWSCURRENT and
// AWSPENDING passwords, both log in to the real redis-server, and nothing
// else does.
func TestModifyUserAnswerLost(t *testing.T) {
	dbtest.NeedsServers(t)
	rs := dbtest.StartRedis(t, false)
	admin := rs.AdminClient(t)
	const account, region = "111111111111", "eu-west-1"
	initial := "initial-" + rotationtest.NewToken()[:20]
	if err := admin.Do(t.Context(), "ACL", "SETUSER", "app", "on", ">"+initial, "~app:*", "+get", "+ping").Err(); err != nil {
		t.Fatal(err)
	}
	secretARN := "arn:aws:secretsmanager:" + region + ":" + account + ":secret:app/cache-AbCdEf"
	ec := localaws.Start(t)
	userARN := ec.AddElastiCacheUser(localaws.ElastiCacheUser{Account: account, Region: region, UserID: "app", UserName: "app",
		Apply: localaws.RedisACL(admin), Tags: map[string]string{"rotary:rotate": "true", elasticache.TagSecret: secretARN}}, 1)
	api := accountUsers(ec, account, region)
	r := elasticache.New(api, password.Default(`/@"'\`), time.Minute, 0)

	cur := secret.Value{Username: "app", Password: initial}
	cur.Set(elasticache.KeyUserARN, userARN)
	rot := rotators.Rotation{SecretARN: secretARN, Token: rotationtest.NewToken()}
	created, err := r.Create(t.Context(), rotators.CreateRequest{Rotation: rot, Current: cur, Passwords: password.Local{}})
	if err != nil {
		t.Fatal(err)
	}
	pending := created.Pending
	ec.InjectFault(localaws.Fault{Operation: "ModifyUser", Kind: localaws.AppliedThenFailed, Count: 1})
	set := func() error {
		_, err := r.Set(t.Context(), rotators.SetRequest{Rotation: rot, Current: cur, Pending: pending})
		return err
	}
	if err := set(); err != nil {
		t.Logf("setSecret failed after the lost answer (%v); Lambda retries it", err)
		if err := set(); err != nil {
			t.Fatalf("setSecret retried: %v", err)
		}
	}
	if n := ec.Calls("ModifyUser", account); n < 2 {
		t.Fatalf("%d ModifyUser calls, want the faulted one and a retry", n)
	}
	if _, n, _ := ec.ElastiCacheUserStatus(userARN); n != 2 {
		t.Errorf("the user holds %d passwords, want 2 (AWSCURRENT's and AWSPENDING's)", n)
	}
	for what, pw := range map[string]string{"AWSCURRENT": cur.Password, "AWSPENDING": pending.Password} {
		if err := rs.Login(t.Context(), "app", pw); err != nil {
			t.Errorf("%s's password does not log in: %v", what, err)
		}
	}
	if err := rs.Login(t.Context(), "app", "not-"+pending.Password); err == nil {
		t.Error("a wrong password logs in: the server does not enforce passwords")
	}
}
