// Command ldap is the Rotary function for LDAP user passwords (OpenLDAP):
// single user (the user changes its own password with Password Modify) and
// admin-password (a master DN replaces userPassword with a salted hash), over
// verified LDAPS or StartTLS. Settings: see rotators/ldap/README.md.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/ldap"
)

func main() {
	lambdamain.Run(register)
}

// register adds both LDAP rotators, configured from the environment.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return ldap.Build(reg, deps, rotators.SingleUser, ldap.AdminPassword)
}
