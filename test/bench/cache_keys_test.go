package bench_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/elasticache"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
	"github.com/rotary-secrets/rotary/rotators/redis"
	"github.com/rotary-secrets/rotary/shared/awsx"
	"github.com/rotary-secrets/rotary/shared/awsx/elasticachex"
	"github.com/rotary-secrets/rotary/shared/awsx/iamx"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/bench"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// counter counts target calls and the failed ones.
type counter struct{ calls, failed atomic.Int64 }

func (c *counter) note(err error) error {
	c.calls.Add(1)
	if err != nil {
		c.failed.Add(1)
	}
	return err
}

func (c *counter) stats() (int64, int64) { return c.calls.Load(), c.failed.Load() }

// redisSubject is a fresh ACL user on a throwaway redis-server (ACL file,
// verified TLS), rotated by the single-user (overlap) or alternating-users
// rotator, whose master is the server's administrator.
func redisSubject(t *testing.T, alternating bool) bench.Subject {
	srv := dbtest.StartRedis(t, true)
	user, pw := "bench_"+randomHex(4), "Init-"+randomHex(12)
	srv.CreateUser(t, user, pw)
	cfg := redis.Config{Passwords: password.Default(""), RootCAs: srv.TLSConfig().RootCAs, ConnectTimeout: 10 * time.Second}
	reg := &rotators.Registry{}
	sm := bench.NewMemSM()
	arn := acct + "bench/redis-" + user + "-AbCdEf"
	v := secret.Value{Engine: redis.Engine, Host: srv.Host, Port: srv.Port, Username: user, Password: pw}
	var stats bench.Stats
	name := "redis single-user"
	if alternating {
		name = "redis alternating-users"
		r := redis.NewMultiUser(cfg)
		reg.Register(r, rotators.AlternatingUsers, redis.Engines...)
		stats = func() (int64, int64) { s := r.Stats(); return s.Logins, s.FailedLogins }
		v.Set(secret.KeyStrategy, rotators.AlternatingUsers)
		v.MasterARN = acct + "bench/redis-master-" + user + "-AbCdEf"
		sm.Put(v.MasterARN, secret.Value{Engine: redis.Engine, Host: srv.Host, Port: srv.Port, Username: dbtest.RedisAdmin, Password: srv.AdminPassword()}.StoredJSON())
	} else {
		r := redis.New(cfg)
		reg.Register(r, rotators.SingleUser, redis.Engines...)
		stats = func() (int64, int64) { s := r.Stats(); return s.Logins, s.FailedLogins }
	}
	sm.Put(arn, v.StoredJSON())
	return bench.Subject{Name: name, Registry: reg, SM: sm, ARN: arn, Stats: stats}
}

// countedEC counts the ElastiCache API calls of the production adapter.
type countedEC struct {
	inner rotators.ElastiCacheUsers
	c     *counter
}

func (e countedEC) DescribeUser(ctx context.Context, arn, token, id string) (rotators.ElastiCacheUser, error) {
	u, err := e.inner.DescribeUser(ctx, arn, token, id)
	return u, e.c.note(err)
}

func (e countedEC) UserTags(ctx context.Context, arn, token, userARN string) (map[string]string, error) {
	tags, err := e.inner.UserTags(ctx, arn, token, userARN)
	return tags, e.c.note(err)
}

func (e countedEC) SetPasswords(ctx context.Context, arn, token, id string, pw []string) error {
	return e.c.note(e.inner.SetPasswords(ctx, arn, token, id, pw))
}

// elasticacheSubject is an ElastiCache RBAC user of localaws, backed by a
// throwaway redis-server, rotated through the production SDK adapter
// (shared/awsx/elasticachex). Its "logins" are ElastiCache API calls.
func elasticacheSubject(t *testing.T) bench.Subject {
	srv := dbtest.StartRedis(t, true)
	user, pw := "bench-"+randomHex(4), "Init-"+randomHex(12)
	srv.CreateUser(t, user, pw)
	aws := localaws.Start(t)
	userARN := aws.AddElastiCacheUser(localaws.ElastiCacheUser{Account: localaws.DefaultAccount, Region: "us-east-1",
		UserID: user, UserName: user, Apply: localaws.RedisACL(srv.AdminClient(t)),
		Tags: map[string]string{"rotary:rotate": "true", elasticache.TagSecret: "bench/elasticache-" + user}}, 1)
	clients := awsx.New(aws.AWSConfig(aws.DefaultCredentials(), "us-east-1"), awsx.Config{HomeAccount: localaws.DefaultAccount})
	c := &counter{}
	reg := &rotators.Registry{}
	reg.Register(elasticache.New(countedEC{elasticachex.New(clients), c}, password.Default(`/@"'\`), time.Minute, 0), rotators.SingleUser, elasticache.Engine)
	sm := bench.NewMemSM()
	arn := acct + "bench/elasticache-" + user + "-AbCdEf"
	v := secret.Value{Engine: elasticache.Engine, Username: user, Password: pw}
	v.Set(elasticache.KeyUserARN, userARN)
	sm.Put(arn, v.StoredJSON())
	return bench.Subject{Name: "elasticache single-user", Registry: reg, SM: sm, ARN: arn, Stats: c.stats}
}

// countedKeys counts the IAM and STS calls of the production adapter.
type countedKeys struct {
	inner rotators.AccessKeyClients
	c     *counter
}

func (k countedKeys) AccessKeys(ctx context.Context, arn, token string) (rotators.AccessKeyAPI, error) {
	api, err := k.inner.AccessKeys(ctx, arn, token)
	if err != nil {
		return nil, err
	}
	return countedKeyAPI{api, k.c}, nil
}

type countedKeyAPI struct {
	inner rotators.AccessKeyAPI
	c     *counter
}

func (a countedKeyAPI) User(ctx context.Context, user string) (string, map[string]string, error) {
	arn, tags, err := a.inner.User(ctx, user)
	return arn, tags, a.c.note(err)
}

func (a countedKeyAPI) ListAccessKeys(ctx context.Context, user string) ([]rotators.AccessKey, error) {
	keys, err := a.inner.ListAccessKeys(ctx, user)
	return keys, a.c.note(err)
}

func (a countedKeyAPI) CreateAccessKey(ctx context.Context, user string) (string, string, error) {
	id, sk, err := a.inner.CreateAccessKey(ctx, user)
	return id, sk, a.c.note(err)
}

func (a countedKeyAPI) SetAccessKeyActive(ctx context.Context, user, id string, active bool) error {
	return a.c.note(a.inner.SetAccessKeyActive(ctx, user, id, active))
}

func (a countedKeyAPI) DeleteAccessKey(ctx context.Context, user, id string) error {
	return a.c.note(a.inner.DeleteAccessKey(ctx, user, id))
}

func (a countedKeyAPI) TagUser(ctx context.Context, user, key, value string) error {
	return a.c.note(a.inner.TagUser(ctx, user, key, value))
}

func (a countedKeyAPI) CallerARN(ctx context.Context, id, sk string) (string, error) {
	arn, err := a.inner.CallerARN(ctx, id, sk)
	return arn, a.c.note(err)
}

// iamKeySubject is an IAM user of localaws with one access key, rotated
// through the production adapter (shared/awsx/iamx). Its "logins" are IAM
// and STS API calls.
func iamKeySubject(t *testing.T) bench.Subject {
	aws := localaws.Start(t)
	arn := acct + "bench/iam-AbCdEf"
	name := "bench-" + randomHex(4)
	aws.AddUser(localaws.IAMUser{Account: localaws.DefaultAccount, Name: name, Tags: map[string]string{iamkey.TagSecret: arn}})
	k, err := aws.IssueUserKey(localaws.DefaultAccount, name)
	if err != nil {
		t.Fatal(err)
	}
	clients := awsx.New(aws.AWSConfig(aws.DefaultCredentials(), "us-east-1"), awsx.Config{HomeAccount: localaws.DefaultAccount})
	c := &counter{}
	reg := &rotators.Registry{}
	reg.Register(iamkey.New(countedKeys{iamx.New(clients), c}, 0), rotators.APIKey, iamkey.Engine)
	sm := bench.NewMemSM()
	v := secret.Value{Engine: iamkey.Engine, Username: name}
	v.Set(iamkey.KeyAccessKeyID, k.AccessKeyID)
	v.Set(iamkey.KeySecretAccessKey, k.SecretAccessKey)
	sm.Put(arn, v.StoredJSON())
	return bench.Subject{Name: "iam-access-key", Registry: reg, SM: sm, ARN: arn, Stats: c.stats}
}

// cacheKeyFunctionFigures measures the built redis, elasticache and
// iam-access-key functions under the RIE (full mode): redis against a
// throwaway TLS redis-server, elasticache against localaws's ElastiCache
// users backed by one, iam-access-key against localaws's IAM and STS.
func cacheKeyFunctionFigures(t *testing.T, rie string, build func(string) string) []bench.FunctionFigures {
	srv := dbtest.StartRedis(t, true)
	user, pw := "benchfn_"+randomHex(4), "Init-"+randomHex(12)
	srv.CreateUser(t, user, pw)
	ecUser, ecPW := "benchfe-"+randomHex(4), "Init-"+randomHex(12)
	srv.CreateUser(t, ecUser, ecPW)
	admin := srv.AdminClient(t)
	iamUser := "benchfi-" + randomHex(4)
	var out []bench.FunctionFigures
	for _, s := range []bench.FunctionSubject{
		{
			Name: "redis", Env: []string{redis.EnvCABundle + "=" + srv.CA.CAFile}, What: "redis single-user",
			Value: secret.Value{Engine: redis.Engine, Host: srv.Host, Port: srv.Port, Username: user, Password: pw},
		},
		{
			Name: "elasticache", Env: []string{elasticache.EnvRetryInterval + "=0"}, What: "elasticache single-user",
			Setup: func(aws *localaws.Server) secret.Value {
				arn := aws.AddElastiCacheUser(localaws.ElastiCacheUser{Account: localaws.DefaultAccount, Region: "us-east-1",
					UserID: ecUser, UserName: ecUser, Apply: localaws.RedisACL(admin),
					Tags: map[string]string{"rotary:rotate": "true", elasticache.TagSecret: "bench/elasticache"}}, 1)
				v := secret.Value{Engine: elasticache.Engine, Username: ecUser, Password: ecPW}
				v.Set(elasticache.KeyUserARN, arn)
				return v
			},
		},
		{
			Name: "iam-access-key", What: "iam-access-key",
			Setup: func(aws *localaws.Server) secret.Value {
				// Tagged with the secret's full ARN once it is stored (Bind).
				aws.AddUser(localaws.IAMUser{Account: localaws.DefaultAccount, Name: iamUser})
				k, err := aws.IssueUserKey(localaws.DefaultAccount, iamUser)
				if err != nil {
					t.Fatal(err)
				}
				v := secret.Value{Engine: iamkey.Engine, Username: iamUser}
				v.Set(iamkey.KeyAccessKeyID, k.AccessKeyID)
				v.Set(iamkey.KeySecretAccessKey, k.SecretAccessKey)
				return v
			},
			Bind: func(aws *localaws.Server, arn string) {
				aws.TagUser(localaws.DefaultAccount, iamUser, iamkey.TagSecret, arn)
			},
		},
	} {
		s.RIE, s.Bootstrap = rie, build(s.Name)
		out = append(out, bench.MeasureFunction(t, s))
	}
	return out
}
