// Command entra-app-secret is the Rotary function for Microsoft Entra ID
// application client secrets: it adds a new secret per rotation through
// Microsoft Graph and removes the one that was AWSPREVIOUS when Rotary minted
// it for the same secret. Settings: see rotators/saas/README.md.
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
func register(reg *rotators.Registry, getenv func(string) string) error {
	return saas.RegisterEntraFromEnv(reg, getenv)
}
