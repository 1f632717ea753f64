package main

import (
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/functest"
	"github.com/rotary-secrets/rotary/rotators/redis"
)

func TestRegister(t *testing.T) {
	functest.Function(t, "redis", register, []functest.Env{
		{Name: "defaults"},
		{Name: "settings", Vars: map[string]string{redis.EnvConnectTimeout: "3s", "PASSWORD_LENGTH": "24"}},
		{Name: "bad timeout", Vars: map[string]string{redis.EnvConnectTimeout: "soon"}, WantErr: true},
		{Name: "missing CA bundle", Vars: map[string]string{redis.EnvCABundle: "/nonexistent.pem"}, WantErr: true},
		{Name: "impossible password policy", Vars: map[string]string{"PASSWORD_LENGTH": "0"}, WantErr: true},
	})
}
