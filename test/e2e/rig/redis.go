package rig

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// Redis is a Redis ACL Target (single user only: no master users), reached
// over verified TLS. Its users may change their own password, as the
// single-user rotator needs.
type Redis struct{ DB *dbtest.Redis }

var _ Target = Redis{}

// StartRedis starts a throwaway redis-server with an ACL file (test/dbtest)
// outside any test and checks that it refuses a wrong password. stop shuts
// it down and removes its files; call it even when err is not nil.
func StartRedis(ctx context.Context) (r Redis, stop func(), err error) {
	tb := newProgramTB(ctx, "redis-server")
	err = tb.run(func() { r = Redis{DB: dbtest.StartRedis(tb, true)} })
	if err == nil {
		err = r.CheckPasswordEnforced(ctx)
	}
	return r, tb.cleanup, err
}

// Engine returns "redis".
func (r Redis) Engine() string { return "redis" }

// Addr returns host:port of the TLS listener.
func (r Redis) Addr() string { return r.DB.Addr() }

// CAFile returns the server's CA file.
func (r Redis) CAFile() string { return r.DB.CA.CAFile }

// CreateUser creates the ACL user name with the rights a self-rotating user
// needs (dbtest.Redis.AddUser). There are no Redis master
// users here.
func (r Redis) CreateUser(ctx context.Context, name, password string, master bool) error {
	if master {
		return errors.New("redis: the rig has no master users (single user only)")
	}
	if err := r.DB.AddUser(ctx, name, password); err != nil {
		return scrub(err, password)
	}
	return nil
}

// Login authenticates as user over verified TLS.
func (r Redis) Login(ctx context.Context, user, password string) error {
	err := r.DB.Login(ctx, user, password)
	if err != nil && strings.HasPrefix(err.Error(), "WRONGPASS") {
		return fmt.Errorf("%w: %s", ErrRejected, user)
	}
	if err != nil {
		return scrub(err, password)
	}
	return nil
}

// KeepsPrevious reports true: both Redis strategies keep AWSPREVIOUS
// working until the next rotation (single user: the user holds both
// passwords; alternating users: the other user keeps its own).
func (r Redis) KeepsPrevious(string) bool { return true }

// Secret is the secret value for user over TLS.
func (r Redis) Secret(user, password string) secret.Value {
	return secret.Value{Engine: "redis", Host: r.DB.Host, Port: r.DB.Port, Username: user, Password: password}
}

// CheckPasswordEnforced returns an error unless a wrong administrator
// password is refused.
func (r Redis) CheckPasswordEnforced(ctx context.Context) error {
	if err := r.Login(ctx, dbtest.RedisAdmin, "wrong-"+RandomHex(8)); !errors.Is(err, ErrRejected) {
		return fmt.Errorf("redis: a wrong password was not refused: %v", err)
	}
	return nil
}
