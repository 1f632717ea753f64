// Command redis is the Rotary function for Redis and Valkey ACL users on
// self-managed servers (engine "redis"): single user with overlap (the user
// keeps its old password until the next rotation while the new one is added)
// and alternating users (a master secret keeps <user>_clone a copy of the
// user). Settings: see rotators/redis/README.md.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/redis"
)

func main() {
	lambdamain.Run(register)
}

// register adds the single-user and alternating-users rotators for the redis
// engine, configured from the environment.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return redis.Build(reg, deps, rotators.SingleUser, rotators.AlternatingUsers)
}
