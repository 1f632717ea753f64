package main

import (
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/functest"
	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/saas"
)

func TestRegister(t *testing.T) {
	functest.Register(t, register, []functest.Env{
		{Name: "defaults"},
		{Name: "settings", Vars: map[string]string{saas.EnvTimeout: "3s", saas.EnvEntraSecretLifetime: "4320h"}},
		{Name: "bad setting", Vars: map[string]string{saas.EnvTimeout: "soon"}, WantErr: true},
		{Name: "bad lifetime", Vars: map[string]string{saas.EnvEntraSecretLifetime: "forever"}, WantErr: true},
	}, []string{saas.EngineEntra}, []string{rotators.APIKey})
}
