package ldap

import (
	"errors"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// TestBuildRoutes: Build registers both strategies; a secret without
// rotationStrategy gets single-user, and a masterarn without one gets
// admin-password (as AWS's templates route a master secret to the
// admin-driven rotation); alternating users is not an LDAP strategy.
func TestBuildRoutes(t *testing.T) {
	var reg rotators.Registry
	if err := Build(&reg, rotators.Deps{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		strategy  string
		masterARN string
		admin     bool
		wantErr   error
	}{
		{name: "default", admin: false},
		{name: "admin-password", strategy: AdminPassword, masterARN: testMasterARN, admin: true},
		{name: "masterarn alone", masterARN: testMasterARN, admin: true},
		{name: "masterarn with single-user", strategy: rotators.SingleUser, masterARN: testMasterARN, admin: false},
		{name: "alternating users", strategy: rotators.AlternatingUsers, wantErr: rotators.ErrNoRotator},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := secret.Value{Engine: Engine, MasterARN: tc.masterARN}
			if tc.strategy != "" {
				v.Set(secret.KeyStrategy, tc.strategy)
			}
			r, err := reg.Lookup(v)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.(*Rotator).admin; got != tc.admin {
				t.Fatalf("admin = %t, want %t", got, tc.admin)
			}
		})
	}
	if err := Build(&reg, rotators.Deps{}, rotators.DualPassword); err == nil {
		t.Fatal("Build accepted dual-password")
	}
}
