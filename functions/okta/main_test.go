package main

import (
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/functest"
	"github.com/rotary-secrets/rotary/rotators/saas"
)

func TestRegister(t *testing.T) {
	functest.Function(t, "okta", register, []functest.Env{
		{Name: "defaults"},
		{Name: "settings", Vars: map[string]string{saas.EnvTimeout: "3s", saas.EnvMaxAttempts: "2"}},
		{Name: "bad setting", Vars: map[string]string{saas.EnvTimeout: "soon"}, WantErr: true},
	})
}
