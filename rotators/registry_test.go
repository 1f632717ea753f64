package rotators_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
)

type named struct {
	rotators.Rotator
	name string
}

type finisher struct{ named }

func (finisher) Finish(context.Context, rotators.FinishRequest) (rotators.FinishResponse, error) {
	return rotators.FinishResponse{}, nil
}

func value(engine, strategy, master string) secret.Value {
	v := secret.Value{Engine: engine, MasterARN: master}
	if strategy != "" {
		v.Set(secret.KeyStrategy, strategy)
	}
	return v
}

func TestRegistryLookup(t *testing.T) {
	single, multi, dual := &named{name: "single"}, &named{name: "multi"}, &named{name: "dual"}
	api := &finisher{named{name: "api"}}
	var reg rotators.Registry
	reg.Register(single, rotators.SingleUser, "postgres", "MariaDB")
	reg.Register(multi, rotators.AlternatingUsers, "postgres", "mariadb")
	reg.Register(dual, rotators.DualPassword, "mariadb")
	reg.Register(api, rotators.APIKey, "sendgrid")
	tests := []struct {
		name    string
		v       secret.Value
		want    *named
		wantErr error
		keyErr  string
	}{
		{name: "no strategy, no masterarn", v: value("postgres", "", ""), want: single},
		{name: "no strategy, masterarn", v: value("postgres", "", "arn:master"), want: multi},
		{name: "explicit strategy wins", v: value("postgres", rotators.SingleUser, "arn:master"), want: single},
		{name: "engine case-insensitive", v: value("MARIADB", rotators.DualPassword, ""), want: dual},
		{name: "one strategy: used without the key", v: value("sendgrid", "", ""), want: &api.named},
		{name: "unknown engine", v: value("oracle", "", ""), wantErr: rotators.ErrNoRotator},
		{name: "strategy not carried", v: value("postgres", rotators.DualPassword, ""), wantErr: rotators.ErrNoRotator},
		{name: "no engine", v: value("", "", ""), keyErr: secret.KeyEngine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reg.Lookup(tt.v)
			switch {
			case tt.keyErr != "":
				var ke *secret.KeyError
				if !errors.As(err, &ke) || ke.Key != tt.keyErr {
					t.Fatalf("err = %v, want KeyError for %s", err, tt.keyErr)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				var name string
				switch r := got.(type) {
				case *named:
					name = r.name
				case *finisher:
					name = r.name
				}
				if name != tt.want.name {
					t.Fatalf("got rotator %q, want %q", name, tt.want.name)
				}
			}
		})
	}
	if got := reg.Engines(); len(got) != 3 {
		t.Errorf("Engines() = %v, want 3 distinct engines", got)
	}
	if got := len(reg.Rotators()); got != 4 {
		t.Errorf("Rotators() has %d, want 4", got)
	}
	if !reg.AnyFinisher() {
		t.Error("AnyFinisher() = false with a Finisher registered")
	}
}

func TestRegistryAnyEngine(t *testing.T) {
	fallback, pg := &named{name: "fallback"}, &named{name: "pg"}
	var reg rotators.Registry
	reg.Register(pg, rotators.SingleUser, "postgres")
	reg.Register(fallback, rotators.SingleUser, rotators.AnyEngine)
	for engine, want := range map[string]string{"postgres": "pg", "anything": "fallback"} {
		got, err := reg.Lookup(value(engine, "", ""))
		if err != nil || got.(*named).name != want {
			t.Errorf("Lookup(%s) = %v, %v; want %s", engine, got, err, want)
		}
	}
	if reg.AnyFinisher() {
		t.Error("AnyFinisher() = true without a Finisher")
	}
}

// TestRegistryImplicitElastiCache: AWS's ElastiCache user secret has no
// engine key; its ElastiCache user_arn routes it to the elasticache engine,
// and only that (a user_arn of another service does not).
func TestRegistryImplicitElastiCache(t *testing.T) {
	ec := &named{name: "elasticache"}
	var reg rotators.Registry
	reg.Register(ec, rotators.SingleUser, "elasticache")
	v := secret.Value{Username: "app", Password: "p"}
	v.Set("user_arn", "arn:aws:elasticache:eu-west-1:111111111111:user:app-user")
	if got, err := reg.Lookup(v); err != nil || got != ec {
		t.Fatalf("Lookup(AWS's ElastiCache secret) = %v, %v; want the elasticache rotator", got, err)
	}
	v.Set("user_arn", "arn:aws:iam::111111111111:user/app")
	var ke *secret.KeyError
	if _, err := reg.Lookup(v); !errors.As(err, &ke) || ke.Key != secret.KeyEngine {
		t.Fatalf("Lookup(engine-less secret with an IAM user_arn) = %v, want a KeyError for engine", err)
	}
}

// TestRegistryMasterStrategy: an engine whose master-driven strategy is not
// alternating users names it, and a masterarn without rotationStrategy gets
// it; an explicit strategy still wins, and other engines keep the default.
func TestRegistryMasterStrategy(t *testing.T) {
	single, admin, multi := &named{name: "single"}, &named{name: "admin"}, &named{name: "multi"}
	var reg rotators.Registry
	reg.Register(single, rotators.SingleUser, "ldap", "postgres")
	reg.Register(admin, "admin-password", "ldap")
	reg.Register(multi, rotators.AlternatingUsers, "postgres")
	reg.MasterStrategy("admin-password", "LDAP")
	for _, tt := range []struct {
		v    secret.Value
		want *named
	}{
		{value("ldap", "", "arn:master"), admin},
		{value("ldap", rotators.SingleUser, "arn:master"), single},
		{value("ldap", "", ""), single},
		{value("postgres", "", "arn:master"), multi},
	} {
		got, err := reg.Lookup(tt.v)
		if err != nil || got != tt.want {
			t.Errorf("%s with masterarn %q: got %v (%v), want %s", tt.v.Engine, tt.v.MasterARN, got, err, tt.want.name)
		}
	}
}
