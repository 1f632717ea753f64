// Command mysql-single is the Rotary function for MySQL, Aurora MySQL and
// MariaDB secrets whose user changes its own password (AWS's single-user
// template), or keeps the old one as a secondary password with
// "rotationStrategy": "dual-password" (MySQL 8.0.14+). Settings: see
// rotators/mysql/README.md.
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

// register adds the single-user and dual-password rotators for every MySQL engine, configured from the
// environment.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return mysql.Build(reg, deps, rotators.SingleUser, rotators.DualPassword)
}
