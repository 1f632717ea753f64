package main

import (
	"slices"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/mysql"
	"github.com/rotary-secrets/rotary/shared/secret"
)

func TestRegister(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr bool
	}{
		{name: "defaults"},
		{name: "settings", env: map[string]string{mysql.EnvConnectTimeout: "3s", "PASSWORD_LENGTH": "24"}},
		{name: "bad timeout", env: map[string]string{mysql.EnvConnectTimeout: "soon"}, wantErr: true},
		{name: "missing CA bundle", env: map[string]string{mysql.EnvCABundle: "/nonexistent.pem"}, wantErr: true},
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
			if got := reg.Engines(); !slices.Equal(got, mysql.Engines) && !slices.Equal(got, sorted(mysql.Engines)) {
				t.Errorf("engines = %v, want %v", got, mysql.Engines)
			}
			var strategies []string
			for _, s := range []string{rotators.SingleUser, rotators.AlternatingUsers, rotators.DualPassword} {
				v := secret.Value{Engine: "mysql"}
				v.Set(secret.KeyStrategy, s)
				if r, err := reg.Lookup(v); err == nil {
					strategies = append(strategies, r.(*mysql.Rotator).Strategy())
				}
			}
			slices.Sort(strategies)
			if want := []string{rotators.AlternatingUsers}; !slices.Equal(strategies, want) {
				t.Errorf("strategies = %v, want %v", strategies, want)
			}
		})
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
