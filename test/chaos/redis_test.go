package chaos_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/redis"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/chaos"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// redisSetUser is in every ACL SETUSER request (RESP sends the subcommand
// as its own bulk string, go-redis in lower case), so the fault proxy cuts setSecret's password
// change.
const redisSetUser = "setuser"

// redisTarget observes one ACL user directly on the server's cleartext port
// as the administrator. Its accounts are the password hashes the user holds:
// every one must be held by a stored version (single user with overlap keeps
// two passwords, and none may be left behind that no version holds).
type redisTarget struct {
	srv  *dbtest.Redis
	user string
	// pair: alternating users; the accounts are the user's and its clone's
	// passwords ("<user> <sha256>").
	pair bool
}

// users are the ACL users the case rotates.
func (r *redisTarget) users() []string {
	if r.pair {
		return []string{r.user, r.user + redis.CloneSuffix}
	}
	return []string{r.user}
}

func (r *redisTarget) client(user, pw string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{
		Addr: net.JoinHostPort(r.srv.Host, strconv.Itoa(r.srv.PlainPort)), Username: user, Password: pw,
		Protocol: 2, MaxRetries: -1, PoolSize: 1, DisableIdentity: true, DialTimeout: 5 * time.Second,
	})
}

func (r *redisTarget) Authenticates(ctx context.Context, v secret.Value) (bool, error) {
	if !slices.Contains(r.users(), v.Username) {
		return false, nil
	}
	c := r.client(v.Username, v.Password)
	defer c.Close()
	err := c.Ping(ctx).Err()
	if err == nil {
		return true, nil
	}
	if e, ok := err.(goredis.Error); ok && (len(e.Error()) >= 8 && e.Error()[:8] == "WRONGPAS") {
		return false, nil
	}
	return false, err
}

func (r *redisTarget) Users(ctx context.Context) ([]string, error) {
	c := r.client(dbtest.RedisAdmin, r.srv.AdminPassword())
	defer c.Close()
	var out []string
	for _, u := range r.users() {
		res, err := c.Do(ctx, "ACL", "GETUSER", u).Result()
		if errors.Is(err, goredis.Nil) && u != r.user {
			continue // the clone does not exist yet
		}
		if err != nil {
			return nil, err
		}
		l, ok := res.([]any)
		if !ok {
			return nil, fmt.Errorf("ACL GETUSER %s: unexpected reply %T", u, res)
		}
		found := false
		for i := 0; i+1 < len(l); i += 2 {
			if l[i] == "passwords" {
				found = true
				ps, _ := l[i+1].([]any)
				for _, p := range ps {
					out = append(out, u+" "+fmt.Sprint(p))
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("ACL GETUSER %s: no passwords field", u)
		}
	}
	return out, nil
}

// Holds: v is the account's user and holds the password whose SHA-256 the
// account names.
func (r *redisTarget) Holds(_ context.Context, account string, v secret.Value) (bool, error) {
	user, hash, _ := strings.Cut(account, " ")
	sum := sha256.Sum256([]byte(v.Password))
	return v.Username == user && hex.EncodeToString(sum[:]) == hash, nil
}

// redisUser creates a fresh ACL user and returns its secret value, pointed
// at a fault proxy in front of the cleartext port (the proxy must read the
// commands).
func redisUser(t testing.TB, srv *dbtest.Redis) (secret.Value, *dbtest.FaultProxy) {
	t.Helper()
	user, pw := "chaos_"+randomHex(4), "Init-"+randomHex(12)
	srv.CreateUser(t, user, pw)
	v := secret.Value{Engine: redis.Engine, Username: user, Password: pw}
	return v, proxied(t, &v, net.JoinHostPort(srv.Host, strconv.Itoa(srv.PlainPort)))
}

// redisStrategy is single user with overlap; pre rotations run before the
// schedule (from the second rotation on, finishSecret learns the password to
// remove from the pending value instead of reading AWSPREVIOUS).
func redisStrategy(srv func(testing.TB) *dbtest.Redis, pre int) chaos.Strategy {
	name := "redis-single"
	if pre > 0 {
		name += "-later"
	}
	return chaos.Strategy{
		Name:          name,
		KeepsPrevious: true, // the old password stays until the next rotation
		Triggers:      []string{redisSetUser},
		PreRotations:  pre,
		New: func(t testing.TB, opts rotationtest.Options) *chaos.Case {
			s := srv(t)
			reg := &rotators.Registry{}
			reg.Register(redis.New(redis.Config{Passwords: password.Default(""), ConnectTimeout: 5 * time.Second}), rotators.SingleUser, redis.Engines...)
			env := rotationtest.New(t, reg, opts)
			v, proxy := redisUser(t, s)
			arn := env.CreateSecret(t, "chaos/redis-"+v.Username, v)
			return &chaos.Case{Env: env, ARN: arn, Target: &redisTarget{srv: s, user: v.Username}, Arm: armProxy(proxy)}
		},
	}
}

// redisPairStrategy is alternating users: the master (the server's
// administrator, through the same fault proxy, as the master must name the
// user secret's host and port) creates and updates <user>_clone; pre
// rotations run before the schedule (1: the clone exists).
func redisPairStrategy(srv func(testing.TB) *dbtest.Redis, pre int) chaos.Strategy {
	name := "redis-alternating"
	if pre > 0 {
		name += "-later"
	}
	return chaos.Strategy{
		Name:          name,
		KeepsPrevious: true, // the previous user keeps its password until the next rotation
		Triggers:      []string{redisSetUser},
		PreRotations:  pre,
		New: func(t testing.TB, opts rotationtest.Options) *chaos.Case {
			s := srv(t)
			reg := &rotators.Registry{}
			reg.Register(redis.NewMultiUser(redis.Config{Passwords: password.Default(""), ConnectTimeout: 5 * time.Second}), rotators.AlternatingUsers, redis.Engines...)
			env := rotationtest.New(t, reg, opts)
			v, proxy := redisUser(t, s)
			master := secret.Value{Engine: redis.Engine, Host: v.Host, Port: v.Port, SSL: v.SSL, Username: dbtest.RedisAdmin, Password: s.AdminPassword()}
			v.MasterARN = env.CreateSecret(t, "chaos/redis-master-"+v.Username, master)
			arn := env.CreateSecret(t, "chaos/redis-"+v.Username, v)
			return &chaos.Case{Env: env, ARN: arn, Target: &redisTarget{srv: s, user: v.Username, pair: true}, Arm: armProxy(proxy)}
		},
	}
}

// oneRedis starts one redis-server for the whole test t and hands it to
// every case.
func oneRedis(t *testing.T) func(testing.TB) *dbtest.Redis {
	s := dbtest.StartRedis(t, true)
	return func(testing.TB) *dbtest.Redis { return s }
}

// TestRedisSingle drops the connection before and after ACL SETUSER reached
// the server (and loses the answers of PutSecretValue and
// UpdateSecretVersionStage); with ROTARY_CHAOS=full every Secrets Manager
// fault point too.
func TestRedisSingle(t *testing.T) {
	dbtest.NeedsServers(t)
	runDB(t, redisStrategy(oneRedis(t), 0))
}

// TestRedisSingleLater is TestRedisSingle on a secret's second rotation,
// where finishSecret removes the password the pending value records.
func TestRedisSingleLater(t *testing.T) {
	dbtest.NeedsServers(t)
	runDB(t, redisStrategy(oneRedis(t), 1))
}

// TestRedisAlternating drops the connection before and after the master's
// ACL SETUSER reached the server, on the first rotation (the clone is
// created) and on a later one (the clone exists, the original's password
// is reset); with ROTARY_CHAOS=full every Secrets Manager fault point too.
func TestRedisAlternating(t *testing.T) {
	dbtest.NeedsServers(t)
	t.Run("first", func(t *testing.T) { runDB(t, redisPairStrategy(oneRedis(t), 0)) })
	t.Run("later", func(t *testing.T) { runDB(t, redisPairStrategy(oneRedis(t), 2)) })
}

// TestRedisKilledUnderRIE kills the built redis function under the Lambda
// RIE right after its ACL SETUSER reached the server (and, with
// ROTARY_CHAOS=full, at every Secrets Manager call of every step); the
// service's retries must complete the rotation with every invariant held.
func TestRedisKilledUnderRIE(t *testing.T) {
	dbtest.NeedsServers(t)
	t.Parallel()
	srv := oneRedis(t)
	calls := chaos.StepCalls{}
	if chaos.Full() {
		calls = chaos.Discover(t, redisStrategy(srv, 0))
	}
	for _, sc := range rieSchedules(calls, []string{redisSetUser}) {
		t.Run(sc.String(), func(t *testing.T) {
			s := srv(t)
			v, proxy := redisUser(t, s)
			runRIE(t, rieCase{fn: "redis", proxy: proxy, value: v, keepsPrevious: true,
				target: &redisTarget{srv: s, user: v.Username}}, sc)
		})
	}
}
