// Command generic is the Rotary function for "generic" secrets: a random value
// (webhook signing key, shared token) that lives only in Secrets Manager.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/generic"
)

func main() {
	lambdamain.Run(register)
}

// register adds the generic rotator, with the password policy of AWS's
// template variables.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return generic.Build(reg, deps)
}
