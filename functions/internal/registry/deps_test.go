package registry_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Drivers a function may link only when it carries the engine that uses it.
const (
	pgxPkg   = "github.com/jackc/pgx/v5"
	mysqlPkg = "github.com/go-sql-driver/mysql"
)

// goListDeps returns every package the function's binary links.
func goListDeps(t *testing.T, function string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "github.com/rotary-secrets/rotary/functions/"+function).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", function, err)
	}
	return strings.Fields(string(out))
}

// TestNoUnusedDriver: no binary links a database driver it does not use
// (`go list -deps`): the SaaS and generic functions carry neither pgx nor the
// MySQL driver, each database function only its own, central both.
func TestNoUnusedDriver(t *testing.T) {
	for function, want := range map[string][]string{
		"okta": nil, "sendgrid": nil, "twilio": nil, "entra": nil, "generic": nil,
		"postgres-single": {pgxPkg}, "postgres-multi": {pgxPkg},
		"mysql-single": {mysqlPkg}, "mysql-multi": {mysqlPkg},
		"central": {pgxPkg, mysqlPkg},
	} {
		t.Run(function, func(t *testing.T) {
			deps := goListDeps(t, function)
			for _, driver := range []string{pgxPkg, mysqlPkg} {
				if got, w := slices.Contains(deps, driver), slices.Contains(want, driver); got != w {
					t.Errorf("functions/%s links %s: %t, want %t", function, driver, got, w)
				}
			}
		})
	}
}
