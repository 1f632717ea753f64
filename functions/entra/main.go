// Command entra is the Rotary function for Microsoft Entra ID application
// client secrets (engine entra-app-secret): it adds a new password credential
// per rotation through Microsoft Graph and removes the one that was
// AWSPREVIOUS, so consumers keep one rotation period of overlap. Settings: see
// rotators/saas/README.md.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/saas"
)

func main() {
	lambdamain.Run(register)
}

// register adds the Entra rotator, configured from the environment.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return saas.Build(reg, deps, saas.EngineEntra)
}
