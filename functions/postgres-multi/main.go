// Command postgres-multi is the Rotary function for PostgreSQL and Aurora
// PostgreSQL secrets rotated by alternating between a user and its _clone, set
// by the master user named in masterarn (AWS's multi-user template). Settings: see rotators/postgres/README.md.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/awsx/rdsx"
)

func main() {
	lambdamain.Run(register, rdsx.Wire)
}

// register adds the alternating-users rotator for both PostgreSQL engines, configured from
// the environment.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return postgres.Build(reg, deps, rotators.AlternatingUsers)
}
