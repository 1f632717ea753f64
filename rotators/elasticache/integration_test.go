package elasticache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/elasticache"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/awsx/elasticachex"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// lateUsers is the shipped ElastiCache adapter (elasticachex), set once the
// kit's target knows the account its secrets live in.
type lateUsers struct{ rotators.ElastiCacheUsers }

// accountUsers is elasticachex over localaws in account mode: the function's
// own account is the secrets' (and users') account.
func accountUsers(ec *localaws.Server, account, region string) rotators.ElastiCacheUsers {
	cfg := ec.AWSConfig(ec.AddAccount(account), region)
	return elasticachex.New(awsx.New(cfg, awsx.Config{Mode: awsx.ModeAccount, HomeAccount: account}))
}

// TestConformance runs the kit against the fake ElastiCache API backed by a
// real redis-server: every login the kit checks is a Redis AUTH.
func TestConformance(t *testing.T) {
	dbtest.NeedsServers(t)
	rs := dbtest.StartRedis(t, false)
	admin := rs.AdminClient(t)
	n := 0
	rotatortest.Run(t, rotatortest.Adapter{
		Name:           "elasticache",
		KeepsPrevious:  true,
		IdentifierKeys: []string{elasticache.KeyUserARN, secret.KeyUsername},
		New: func(t testing.TB) *rotatortest.Target {
			n++
			name := fmt.Sprintf("app%d-%s", n, strings.ToLower(rotationtest.NewToken()[:8]))
			initial := "initial-" + rotationtest.NewToken()[:20]
			if err := admin.Do(t.Context(), "ACL", "SETUSER", name, "on", ">"+initial, "~app:*", "+get", "+set", "+ping").Err(); err != nil {
				t.Fatal(err)
			}
			ec := localaws.Start(t)
			var reg rotators.Registry
			api := &lateUsers{}
			reg.Register(elasticache.New(api, password.Default(`/@"'\`), time.Minute, 0), rotators.SingleUser, elasticache.Engine)
			return &rotatortest.Target{
				Rotators: &reg,
				Value:    secret.Value{Username: name, Password: initial},
				Bind: func(arn string, v secret.Value) (secret.Value, bool) {
					p := strings.Split(arn, ":")
					userARN := ec.AddElastiCacheUser(localaws.ElastiCacheUser{Account: p[4], Region: p[3], UserID: name, UserName: name,
						Apply: localaws.RedisACL(admin), Tags: map[string]string{"rotary:rotate": "true", elasticache.TagSecret: arn}}, 1)
					api.ElastiCacheUsers = accountUsers(ec, p[4], p[3])
					v.Set(elasticache.KeyUserARN, userARN)
					return v, true
				},
				Login: func(ctx context.Context, v secret.Value) error { return rs.Login(ctx, v.Username, v.Password) },
			}
		},
	})
}

// TestNotOwnedUnderLocalAWS: in one account, team A's secret names team B's
// user (tagged rotary:rotate=true and rotary:secret=team-b/cache) with B's
// user name. createSecret and setSecret refuse with ErrNotOwned after
// ListTagsForResource on the user's ARN; no ModifyUser reaches the API and
// B's password still logs in to the real redis-server.
func TestNotOwnedUnderLocalAWS(t *testing.T) {
	dbtest.NeedsServers(t)
	rs := dbtest.StartRedis(t, false)
	admin := rs.AdminClient(t)
	const account, region = "111111111111", "eu-west-1"
	bPassword := "team-b-" + rotationtest.NewToken()[:20]
	if err := admin.Do(t.Context(), "ACL", "SETUSER", "team-b", "on", ">"+bPassword, "~b:*", "+get", "+ping").Err(); err != nil {
		t.Fatal(err)
	}
	ec := localaws.Start(t)
	bARN := ec.AddElastiCacheUser(localaws.ElastiCacheUser{Account: account, Region: region, UserID: "team-b", UserName: "team-b",
		Apply: localaws.RedisACL(admin), Tags: map[string]string{"rotary:rotate": "true", elasticache.TagSecret: "team-b/cache"}}, 1)
	api := accountUsers(ec, account, region)
	r := elasticache.New(api, password.Default(`/@"'\`), time.Minute, 0)

	teamA := "arn:aws:secretsmanager:" + region + ":" + account + ":secret:team-a/cache-AbCdEf"
	cur := secret.Value{Username: "team-b", Password: "whatever-team-a-holds"}
	cur.Set(elasticache.KeyUserARN, bARN)
	pending := cur.Clone()
	pending.Password = "taken-over-" + rotationtest.NewToken()[:20]
	rot := rotators.Rotation{SecretARN: teamA, Token: rotationtest.NewToken()}
	ec.ResetCalls()
	if _, err := r.Create(t.Context(), rotators.CreateRequest{Rotation: rot, Current: cur, Passwords: password.Local{}}); !errors.Is(err, elasticache.ErrNotOwned) {
		t.Errorf("Create: %v, want ErrNotOwned", err)
	}
	if _, err := r.Set(t.Context(), rotators.SetRequest{Rotation: rot, Current: cur, Pending: pending}); !errors.Is(err, elasticache.ErrNotOwned) {
		t.Errorf("Set: %v, want ErrNotOwned", err)
	}
	if n := ec.Calls("ListTagsForResource", account); n != 2 {
		t.Errorf("%d ListTagsForResource calls, want 2 (one per step)", n)
	}
	if n := ec.Calls("ModifyUser", account); n != 0 {
		t.Errorf("%d ModifyUser calls, want none", n)
	}
	if err := rs.Login(t.Context(), "team-b", bPassword); err != nil {
		t.Errorf("team B's password no longer works: %v", err)
	}
	if err := rs.Login(t.Context(), "team-b", pending.Password); err == nil {
		t.Error("team A's pending password logs in as team B")
	}
}
