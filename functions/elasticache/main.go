// Command elasticache is the Rotary function for Amazon ElastiCache RBAC user
// secrets (AWS's SecretsManagerElasticacheUserRotation template's secret,
// unchanged). Settings: see rotators/elasticache/README.md.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/elasticache"
	"github.com/rotary-secrets/rotary/shared/awsx/elasticachex"
)

func main() {
	lambdamain.Run(register, elasticachex.Wire)
}

// register adds the ElastiCache user rotator, configured from the
// environment, with the ElastiCache API of each secret's account.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return elasticache.Build(reg, deps, rotators.SingleUser)
}
