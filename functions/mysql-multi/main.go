// Command mysql-multi is the Rotary function for MySQL, Aurora MySQL and
// MariaDB secrets rotated by alternating between a user and its _clone, set by
// the master user named in masterarn (AWS's multi-user template). Settings:
// see rotators/mysql/README.md.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/mysql"
	"github.com/rotary-secrets/rotary/shared/awsx/rdsx"
)

func main() {
	lambdamain.Run(register, rdsx.Wire)
}

// register adds the alternating-users rotator for every MySQL engine, configured from the
// environment.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return mysql.Build(reg, deps, rotators.AlternatingUsers)
}
