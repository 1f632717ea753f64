package main

import (
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/functest"
	"github.com/rotary-secrets/rotary/rotators/iamkey"
)

func TestRegister(t *testing.T) {
	functest.Function(t, "iam-access-key", register, []functest.Env{
		{Name: "defaults"},
		{Name: "settings", Vars: map[string]string{iamkey.EnvVerifyWait: "30s"}},
		{Name: "bad setting", Vars: map[string]string{iamkey.EnvVerifyWait: "soon"}, WantErr: true},
	})
}
