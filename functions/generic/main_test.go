package main

import (
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/functest"
)

func TestRegister(t *testing.T) {
	functest.Function(t, "generic", register, []functest.Env{
		{Name: "defaults"},
		{Name: "settings", Vars: map[string]string{"PASSWORD_LENGTH": "48", "EXCLUDE_PUNCTUATION": "true"}},
		{Name: "impossible password policy", Vars: map[string]string{"PASSWORD_LENGTH": "0"}, WantErr: true},
		{Name: "bad boolean", Vars: map[string]string{"EXCLUDE_NUMBERS": "maybe"}, WantErr: true},
	})
}
