// Command central is the Rotary function for a central account: it rotates
// secrets of every supported engine, in its own account and (with
// ROTARY_MODE=central) in member accounts through an assumed role.
package main

import (
	"github.com/rotary-secrets/rotary/functions/internal/lambdamain"
	"github.com/rotary-secrets/rotary/functions/internal/registry"
	"github.com/rotary-secrets/rotary/shared/awsx/elasticachex"
	"github.com/rotary-secrets/rotary/shared/awsx/iamx"
	"github.com/rotary-secrets/rotary/shared/awsx/rdsx"
)

func main() {
	lambdamain.Run(registry.All, rdsx.Wire, elasticachex.Wire, iamx.Wire)
}
