// Command okta is the Rotary function for Okta OAuth client secrets: it adds a
// new secret per rotation and deactivates then deletes the one that was
// AWSPREVIOUS (Okta keeps two at most). Settings: see rotators/saas/README.md.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/saas"
)

func main() {
	lambdamain.Run(register)
}

// register adds the Okta rotator, configured from the environment.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return saas.Build(reg, deps, saas.EngineOkta)
}
