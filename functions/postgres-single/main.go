// Command postgres-single is the Rotary function for PostgreSQL and Aurora
// PostgreSQL secrets whose user changes its own password (AWS's single-user
// template). Settings: see rotators/postgres/README.md.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/postgres"
)

// main passes no RDS endpoint resolver: the single-user strategy logs in at
// the secret's own host and never reads a master secret, so the function
// links no RDS client (whose start-up alone cost it 2.5 MiB of peak RSS).
func main() {
	lambdamain.Run(register)
}

// register adds the single-user rotator for both PostgreSQL engines, configured from
// the environment.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return postgres.Build(reg, deps, rotators.SingleUser)
}
