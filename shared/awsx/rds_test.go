package awsx_test

import (
	"errors"
	"testing"

	"github.com/rotary-secrets/rotary/shared/awsx"
)

// TestRDSEndpointsNotManaged: a master secret without RDS's system tag is not
// resolved (one DescribeSecret, no RDS call).
func TestRDSEndpointsNotManaged(t *testing.T) {
	f := newFleet(t)
	r := awsx.NewRDSEndpoints(f.clients(t, map[string]string{awsx.EnvHomeAccount: centralAcct}))
	_, _, err := r.ResolveEndpoint(t.Context(), f.secrets[centralAcct], "", "")
	if !errors.Is(err, awsx.ErrNotRDSManaged) {
		t.Fatalf("ResolveEndpoint: %v, want ErrNotRDSManaged", err)
	}
	if n := f.srv.Calls("DescribeSecret", centralAcct); n != 1 {
		t.Errorf("%d DescribeSecret calls, want 1", n)
	}
}
