package main

import (
	"slices"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/postgres"
	"github.com/rotary-secrets/rotary/shared/secret"
)

func TestRegister(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr bool
	}{
		{name: "defaults"},
		{name: "settings", env: map[string]string{postgres.EnvConnectTimeout: "3s", "PASSWORD_LENGTH": "24"}},
		{name: "bad timeout", env: map[string]string{postgres.EnvConnectTimeout: "soon"}, wantErr: true},
		{name: "missing CA bundle", env: map[string]string{postgres.EnvCABundle: "/nonexistent.pem"}, wantErr: true},
		{name: "impossible password policy", env: map[string]string{"PASSWORD_LENGTH": "0"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var reg rotators.Registry
			err := register(&reg, func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("register() = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			want := slices.Sorted(slices.Values(postgres.Engines))
			if got := reg.Engines(); !slices.Equal(got, want) {
				t.Errorf("engines = %v, want %v", got, want)
			}
			for _, engine := range postgres.Engines {
				v := secret.Value{Engine: engine}
				v.Set(secret.KeyStrategy, rotators.AlternatingUsers)
				if _, err := reg.Lookup(v); err != nil {
					t.Errorf("Lookup(%s, %s): %v", engine, rotators.AlternatingUsers, err)
				}
				v.Set(secret.KeyStrategy, rotators.SingleUser)
				if _, err := reg.Lookup(v); err == nil {
					t.Errorf("Lookup(%s, %s) found a rotator this function does not carry", engine, rotators.SingleUser)
				}
			}
		})
	}
}
