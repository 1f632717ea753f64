package registry

import (
	"fmt"

	"github.com/rotary-secrets/rotary/rotators"
)

// Func adds rotators to reg, built with deps. It is a rotators.Builder, the
// shape of lambdamain.Register.
type Func = rotators.Builder

// All registers every row of Table with every strategy (see the package
// documentation). It is what functions/central runs.
func All(reg *rotators.Registry, deps rotators.Deps) error {
	for _, e := range Table {
		if err := e.Build(reg, deps, e.Strategies...); err != nil {
			return fmt.Errorf("register %s rotators: %w", e.Name, err)
		}
	}
	return nil
}
