package elasticache_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec "github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/redis/go-redis/v9"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/elasticache"
	"github.com/rotary-secrets/rotary/rotators/rotatortest"
	"github.com/rotary-secrets/rotary/shared/password"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
	"github.com/rotary-secrets/rotary/test/localaws"
	"github.com/rotary-secrets/rotary/test/rotationtest"
)

// redisServer is a throwaway redis-server on a free loopback port whose
// default user needs adminPassword.
type redisServer struct {
	addr  string
	admin *redis.Client
}

const adminPassword = "admin-Password-0123456789"

func startRedis(t testing.TB) *redisServer {
	t.Helper()
	dbtest.NeedsServers(t)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not installed (apt-get install redis-server): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("bind 127.0.0.1\nport %d\nsave \"\"\nappendonly no\ndir %s\nrequirepass %s\n", port, dir, adminPassword)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	admin := redis.NewClient(&redis.Options{Addr: addr, Password: adminPassword, MaxRetries: -1})
	t.Cleanup(func() { _ = admin.Close() })
	for i := 0; ; i++ {
		if err := admin.Ping(t.Context()).Err(); err == nil {
			break
		} else if i > 100 {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The server must enforce passwords: a wrong one is refused (WRONGPASS).
	wrong := redis.NewClient(&redis.Options{Addr: addr, Password: "wrong-" + rotationtest.NewToken()[:8], MaxRetries: -1, DisableIdentity: true})
	defer func() { _ = wrong.Close() }()
	if err := wrong.Ping(t.Context()).Err(); err == nil {
		t.Fatal("redis-server accepted a wrong password")
	} else if !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Fatalf("redis-server refused a wrong password with an unexpected error (want WRONGPASS): %v", err)
	}
	return &redisServer{addr: addr, admin: admin}
}

// login authenticates as user with pw on a fresh connection.
func (r *redisServer) login(ctx context.Context, user, pw string) error {
	c := redis.NewClient(&redis.Options{Addr: r.addr, Username: user, Password: pw, MaxRetries: -1, DisableIdentity: true})
	defer func() { _ = c.Close() }()
	if err := c.Ping(ctx).Err(); err != nil {
		return errLoginRefused
	}
	return nil
}

var errLoginRefused = errors.New("redis refused the login")

// sdkUsers is rotators.ElastiCacheUsers over the SDK client of one account
// (the kit's secrets all live in it).
type sdkUsers struct{ c *awsec.Client }

func (u *sdkUsers) DescribeUser(ctx context.Context, _, id string) (rotators.ElastiCacheUser, error) {
	out, err := u.c.DescribeUsers(ctx, &awsec.DescribeUsersInput{UserId: aws.String(id)})
	if err != nil {
		return rotators.ElastiCacheUser{}, err
	}
	x := out.Users[0]
	return rotators.ElastiCacheUser{ARN: aws.ToString(x.ARN), UserID: aws.ToString(x.UserId), UserName: aws.ToString(x.UserName),
		Status: aws.ToString(x.Status), Authentication: string(x.Authentication.Type), PasswordCount: int(aws.ToInt32(x.Authentication.PasswordCount))}, nil
}

func (u *sdkUsers) SetPasswords(ctx context.Context, _, id string, pw []string) error {
	_, err := u.c.ModifyUser(ctx, &awsec.ModifyUserInput{UserId: aws.String(id), Passwords: pw})
	return err
}

// TestConformance runs the kit against the fake ElastiCache API backed by a
// real redis-server: every login the kit checks is a Redis AUTH.
func TestConformance(t *testing.T) {
	rs := startRedis(t)
	n := 0
	rotatortest.Run(t, rotatortest.Adapter{
		Name:           "elasticache",
		KeepsPrevious:  true,
		IdentifierKeys: []string{elasticache.KeyUserARN, secret.KeyUsername},
		New: func(t testing.TB) *rotatortest.Target {
			n++
			name := fmt.Sprintf("app%d-%s", n, strings.ToLower(rotationtest.NewToken()[:8]))
			initial := "initial-" + rotationtest.NewToken()[:20]
			if err := rs.admin.Do(t.Context(), "ACL", "SETUSER", name, "on", ">"+initial, "~app:*", "+get", "+set", "+ping").Err(); err != nil {
				t.Fatal(err)
			}
			ec := localaws.Start(t)
			var reg rotators.Registry
			api := &sdkUsers{}
			reg.Register(elasticache.New(api, password.Default(`/@"'\`), time.Minute, 0), rotators.SingleUser, elasticache.Engine)
			return &rotatortest.Target{
				Rotators: &reg,
				Value:    secret.Value{Username: name, Password: initial},
				Bind: func(arn string, v secret.Value) (secret.Value, bool) {
					p := strings.Split(arn, ":")
					userARN := ec.AddElastiCacheUser(localaws.ElastiCacheUser{Account: p[4], Region: p[3], UserID: name, UserName: name,
						Apply: localaws.RedisACL(rs.admin)}, 1)
					cfg := ec.AWSConfig(ec.AddAccount(p[4]), p[3])
					api.c = awsec.NewFromConfig(cfg)
					v.Set(elasticache.KeyUserARN, userARN)
					return v, true
				},
				Login: func(ctx context.Context, v secret.Value) error { return rs.login(ctx, v.Username, v.Password) },
			}
		},
	})
}
