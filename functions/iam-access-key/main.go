// Command iam-access-key is the Rotary function for IAM user access keys: it
// creates the user's new key through the IAM API of the secret's own account,
// verifies it with sts:GetCallerIdentity, and retires (deactivates, then
// deletes) the key that was AWSPREVIOUS, so consumers keep one rotation period
// of overlap. Settings: see rotators/iamkey/README.md.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
	"github.com/rotary-secrets/rotary/shared/awsx/iamx"
)

func main() {
	lambdamain.Run(register, iamx.Wire)
}

// register adds the IAM access-key rotator, configured from the environment.
func register(reg *rotators.Registry, deps rotators.Deps) error {
	return iamkey.Build(reg, deps, rotators.APIKey)
}
