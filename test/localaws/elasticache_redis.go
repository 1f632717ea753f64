package localaws

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// RedisACL returns an ElastiCacheUser.Apply that sets a user's passwords on a
// real redis-server with ACL SETUSER <name> resetpass ><password>…, leaving
// its other rules (the access string) as they are. admin is a client
// allowed to run ACL SETUSER.
func RedisACL(admin *redis.Client) func(ctx context.Context, userName string, passwords []string) error {
	return func(ctx context.Context, userName string, passwords []string) error {
		args := []any{"ACL", "SETUSER", userName, "resetpass"}
		for _, p := range passwords {
			args = append(args, ">"+p)
		}
		return admin.Do(ctx, args...).Err()
	}
}
