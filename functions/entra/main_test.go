package main

import (
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/functest"
	"github.com/rotary-secrets/rotary/rotators/saas"
)

func TestRegister(t *testing.T) {
	functest.Function(t, "entra", register, []functest.Env{
		{Name: "defaults"},
		{Name: "settings", Vars: map[string]string{saas.EnvTimeout: "3s", saas.EnvEntraLifetime: "2160h"}},
		{Name: "bad setting", Vars: map[string]string{saas.EnvEntraLifetime: "forever"}, WantErr: true},
	})
}
