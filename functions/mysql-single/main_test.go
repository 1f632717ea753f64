package main

import (
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/functest"
	"github.com/rotary-secrets/rotary/rotators/mysql"
)

func TestRegister(t *testing.T) {
	functest.Function(t, "mysql-single", register, []functest.Env{
		{Name: "defaults"},
		{Name: "settings", Vars: map[string]string{mysql.EnvConnectTimeout: "3s", "PASSWORD_LENGTH": "24"}},
		{Name: "bad timeout", Vars: map[string]string{mysql.EnvConnectTimeout: "soon"}, WantErr: true},
		{Name: "missing CA bundle", Vars: map[string]string{mysql.EnvCABundle: "/nonexistent.pem"}, WantErr: true},
		{Name: "impossible password policy", Vars: map[string]string{"PASSWORD_LENGTH": "0"}, WantErr: true},
	})
}
