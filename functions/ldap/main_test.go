package main

import (
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/functest"
	"github.com/rotary-secrets/rotary/rotators/ldap"
)

func TestRegister(t *testing.T) {
	functest.Function(t, "ldap", register, []functest.Env{
		{Name: "defaults"},
		{Name: "settings", Vars: map[string]string{ldap.EnvConnectTimeout: "3s", "PASSWORD_LENGTH": "24"}},
		{Name: "bad timeout", Vars: map[string]string{ldap.EnvConnectTimeout: "soon"}, WantErr: true},
		{Name: "missing CA bundle", Vars: map[string]string{ldap.EnvCABundle: "/nonexistent.pem"}, WantErr: true},
		{Name: "impossible password policy", Vars: map[string]string{"PASSWORD_LENGTH": "0"}, WantErr: true},
	})
}
