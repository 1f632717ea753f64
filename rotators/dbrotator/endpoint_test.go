package dbrotator

import (
	"context"
	"errors"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
)

type resolver struct {
	host string
	port int
	err  error
}

func (r resolver) ResolveEndpoint(context.Context, string, string, string, string) (string, int, error) {
	return r.host, r.port, r.err
}

// TestMasterEndpoint: the master credential goes only to the master secret's
// own server or its RDS endpoint, and only when the user secret names it.
func TestMasterEndpoint(t *testing.T) {
	user := secret.Value{Host: "db.example.com", Port: 5432, MasterARN: "arn:m"}
	rds := resolver{host: "DB.example.com", port: 5432}
	tests := []struct {
		name   string
		res    *resolver
		master secret.Value
		want   Endpoint
		err    error
	}{
		{name: "own host", master: secret.Value{Host: "db.example.com", Port: 5432}, want: Endpoint{"db.example.com", 5432}},
		{name: "own host, default port", master: secret.Value{Host: "db.example.com"}, want: Endpoint{"db.example.com", 5432}},
		{name: "own host, another port", master: secret.Value{Host: "db.example.com", Port: 5433}, err: ErrEndpointMismatch},
		{name: "own host, another host", master: secret.Value{Host: "evil.example.com", Port: 5432}, err: ErrEndpointMismatch},
		{name: "RDS", res: &rds, want: Endpoint{"DB.example.com", 5432}},
		{name: "RDS, same port named", res: &rds, master: secret.Value{Port: 5432}, want: Endpoint{"DB.example.com", 5432}},
		{name: "RDS, another port named", res: &rds, master: secret.Value{Port: 5433}, err: ErrEndpointMismatch},
		{name: "RDS, default port", res: &resolver{host: "db.example.com"}, want: Endpoint{"db.example.com", 5432}},
		{name: "RDS of another server", res: &resolver{host: "other.example.com", port: 5432}, err: ErrEndpointMismatch},
		{name: "no resolver", err: ErrMasterEndpoint},
		{name: "not RDS-managed", res: &resolver{}, err: ErrMasterEndpoint},
		{name: "RDS error", res: &resolver{err: errors.New("throttled")}, err: ErrMasterEndpoint},
		{name: "resolver gives no host name", res: &resolver{host: "db.example.com/x", port: 5432}, err: ErrMasterEndpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res rotators.EndpointResolver
			if tt.res != nil {
				res = *tt.res
			}
			got, err := MasterEndpoint(t.Context(), res, "token-1", user, tt.master, 5432)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("MasterEndpoint() = %v, %v; want %v", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("MasterEndpoint() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
