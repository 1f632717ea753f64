// Command twilio is the Rotary function for Twilio API keys: it mints a new
// key per rotation and revokes the key that was AWSPREVIOUS, so consumers keep
// one rotation period of overlap. Settings: see rotators/saas/README.md.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/saas"
)

func main() {
	lambdamain.Run(register)
}

// register adds the Twilio rotator, configured from the environment.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return saas.Build(reg, deps, saas.EngineTwilio)
}
