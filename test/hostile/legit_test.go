package hostile

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/awsx/rdsx"
	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/e2e/rig"
	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestLegitimateMasters: what the attacks' refusals must not break, through
// the same built function. Alternating users with a master secret of the
// secret's own account that names the same server, and with an RDS-managed
// master secret (username and password only, RDS's system tag planted on it)
// whose endpoint the function finds through the RDS API: DescribeDBInstances
// for PostgreSQL, DescribeDBClusters for MariaDB. Each rotates, the new user
// logs in, AWSPREVIOUS keeps working, B and the central account's secrets are
// never read, and no password reaches the logs.
func TestLegitimateMasters(t *testing.T) {
	pg, maria := servers(t)
	w := world(t)
	fn := startCentral(t, w, centralConfig("rotary-central", bundle(t, pg.CAFile(), maria.CAFile())))

	t.Run("same-account master with host", func(t *testing.T) {
		for _, target := range []rig.Target{pg, maria} {
			t.Run(target.Engine(), func(t *testing.T) {
				s, err := w.Provision(t.Context(), rig.Case{Name: "own/" + target.Engine() + "-multi", Account: memberA, Target: target, Strategy: rotators.AlternatingUsers})
				if err != nil {
					t.Fatal(err)
				}
				w.AWS.ResetCalls()
				r, err := w.Rotate(t.Context(), s, fn)
				if err != nil {
					t.Fatal(err)
				}
				if c := w.Verify(t.Context(), s, r); !c.OK() {
					t.Fatalf("%s: %v", s.Name, c.Err())
				}
				neverRead(t, w, memberB)
				centralNeverRead(t, w)
				noLeaks(t, fn, &secrets{}, s, r.Run.Error)
			})
		}
	})

	for _, c := range []struct {
		name    string
		target  rig.Target
		cluster bool
	}{
		{"RDS-managed master/postgres instance", pg, false},
		{"RDS-managed master/mariadb cluster", maria, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			planted := &secrets{}
			master := newUser(t, c.target, planted, "master", true)
			host, port := hostPort(t, c.target)
			// What RDS makes: a secret holding only username and password,
			// tagged with the database that owns it.
			masterARN := createSecret(t, w, memberA, "rds-db-"+master.user, secret.Value{Username: master.user, Password: master.password})
			app := newUser(t, c.target, planted, "app", false)
			v := alternating(c.target, app, masterARN)
			ident := "orders-" + rig.RandomHex(3)
			var tag, dbARN string
			if c.cluster {
				tag = rdsx.TagRDSPrimaryCluster
				dbARN = w.AWS.AddDBCluster(localaws.DBCluster{Account: memberA, Region: rig.Region, Identifier: ident, Engine: "aurora-mysql", Endpoint: host, Port: port})
				v.DBClusterIdentifier = ident
			} else {
				tag = rdsx.TagRDSPrimaryInstance
				dbARN = w.AWS.AddDBInstance(localaws.DBInstance{Account: memberA, Region: rig.Region, Identifier: ident, Engine: c.target.Engine(), Address: host, Port: port})
				v.DBInstanceIdentifier = ident
			}
			if err := w.AWS.PlantSystemTag(masterARN, tag, dbARN); err != nil {
				t.Fatal(err)
			}
			arn := createSecret(t, w, memberA, "rds/"+app.user, v)
			s := &rig.Secret{Case: rig.Case{Name: "rds/" + app.user, Account: memberA, Target: c.target, Strategy: rotators.AlternatingUsers}, ARN: arn, MasterARN: masterARN, User: app.user}

			w.AWS.ResetCalls()
			r, err := w.Rotate(t.Context(), s, fn)
			if err != nil {
				t.Fatal(err)
			}
			if ch := w.Verify(t.Context(), s, r); !ch.OK() {
				t.Fatalf("%s: %v", s.Name, ch.Err())
			}
			op := "DescribeDBInstances"
			if c.cluster {
				op = "DescribeDBClusters"
			}
			if n := w.AWS.Calls(op, memberA); n == 0 {
				t.Errorf("no %s call in A: the master's endpoint was not resolved through the RDS API", op)
			}
			neverRead(t, w, memberB)
			centralNeverRead(t, w)
			noLeaks(t, fn, planted, s, r.Run.Error)
		})
	}
}

// hostPort returns a real server's host and port.
func hostPort(t *testing.T, target rig.Target) (string, int) {
	t.Helper()
	switch tg := target.(type) {
	case rig.Postgres:
		return tg.DB.Host, tg.DB.Port
	case rig.MariaDB:
		return tg.DB.Host, tg.DB.Port
	}
	t.Fatalf("unknown target %T", target)
	return "", 0
}

// stepFailedLogged reports whether the logs hold the engine's "rotation step
// failed" line for step of secretARN.
func stepFailedLogged(logs, step, secretARN string) bool {
	for line := range strings.SplitSeq(logs, "\n") {
		i := strings.Index(line, "{")
		if i < 0 {
			continue
		}
		var rec struct {
			Message   string `json:"message"`
			Step      string `json:"step"`
			SecretARN string `json:"secretArn"`
		}
		if json.Unmarshal([]byte(line[i:]), &rec) == nil && rec.Message == "rotation step failed" && rec.Step == step && rec.SecretARN == secretARN {
			return true
		}
	}
	return false
}
