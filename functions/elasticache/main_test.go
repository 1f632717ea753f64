package main

import (
	"testing"

	"github.com/rotary-secrets/rotary/functions/internal/functest"
)

func TestRegister(t *testing.T) {
	functest.Function(t, "elasticache", register, []functest.Env{
		{Name: "defaults"},
		{Name: "settings", Vars: map[string]string{"PASSWORD_LENGTH": "64", "MAX_WAITING_TIME_FOR_ACTIVE_IN_SECONDS": "120", "WAITING_RETRY_INTERVAL_IN_SECONDS": "5"}},
		{Name: "password too short for ElastiCache", Vars: map[string]string{"PASSWORD_LENGTH": "12"}, WantErr: true},
		{Name: "password too long for ElastiCache", Vars: map[string]string{"PASSWORD_LENGTH": "129"}, WantErr: true},
		{Name: "spaces", Vars: map[string]string{"INCLUDE_SPACE": "true"}, WantErr: true},
		{Name: "bad wait", Vars: map[string]string{"MAX_WAITING_TIME_FOR_ACTIVE_IN_SECONDS": "ten"}, WantErr: true},
	})
}
