// Command ldap is the Rotary function for LDAP user passwords (OpenLDAP and
// servers with the Password Modify extended operation): the user changes its
// own password over verified LDAPS or StartTLS. Settings: see
// rotators/ldap/README.md.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/ldap"
)

func main() {
	lambdamain.Run(register, nil)
}

// register adds the single-user LDAP rotator, configured from the
// environment.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return ldap.Build(reg, deps, rotators.SingleUser)
}
