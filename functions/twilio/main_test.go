package main

import (
	"slices"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/rotators/saas"
)

func TestRegister(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		wantErr bool
	}{
		{name: "defaults"},
		{name: "settings", env: map[string]string{saas.EnvTimeout: "3s", saas.EnvMaxAttempts: "2"}},
		{name: "bad setting", env: map[string]string{saas.EnvTimeout: "soon"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var reg rotators.Registry
			err := register(&reg, func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("register = %v, want error %v", err, tc.wantErr)
			}
			if want := []string{saas.EngineTwilio}; !tc.wantErr && !slices.Equal(reg.Engines(), want) {
				t.Errorf("engines = %v, want %v", reg.Engines(), want)
			}
		})
	}
}
