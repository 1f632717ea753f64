package registry

import (
	"fmt"

	"github.com/rotary-secrets/rotary/rotators"
)

// All registers every row of Table with every strategy (see the package
// documentation): a rotators.Builder. It is what functions/central runs.
func All(reg *rotators.Registry, deps rotators.Deps) error {
	for _, e := range Table {
		if err := e.Build(reg, deps, e.Strategies...); err != nil {
			return fmt.Errorf("register %s rotators: %w", e.Name, err)
		}
	}
	return nil
}
