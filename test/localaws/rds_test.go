package localaws_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotary-secrets/rotary/test/localaws"
)

// TestRDSDescribe: the official RDS client reads what AddDBInstance and
// AddDBCluster registered, by identifier or ARN, only in the caller's own
// account and region; an unknown one is DBInstanceNotFound /
// DBClusterNotFoundFault; the calls are counted per account.
func TestRDSDescribe(t *testing.T) {
	s := localaws.Start(t)
	owner := s.AddAccount("210987654321")
	other := s.AddAccount("310987654321")
	inst := localaws.DBInstance{Account: owner.Account, Region: region, Identifier: "orders-db", Engine: "postgres", Address: "127.0.0.1", Port: 15432}
	instARN := s.AddDBInstance(inst)
	cl := localaws.DBCluster{Account: owner.Account, Region: region, Identifier: "orders-cl", Engine: "aurora-mysql", Endpoint: "127.0.0.1", Port: 13306}
	clARN := s.AddDBCluster(cl)
	if want := "arn:aws:rds:" + region + ":210987654321:db:orders-db"; instARN != want {
		t.Errorf("instance ARN %s, want %s", instARN, want)
	}
	c := rds.NewFromConfig(s.AWSConfig(owner, region))

	for _, id := range []string{"orders-db", "ORDERS-DB", instARN} {
		out, err := c.DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
		if err != nil {
			t.Fatalf("DescribeDBInstances(%s): %v", id, err)
		}
		if len(out.DBInstances) != 1 || out.DBInstances[0].Endpoint == nil {
			t.Fatalf("DescribeDBInstances(%s) = %+v, want one instance with an endpoint", id, out.DBInstances)
		}
		d := out.DBInstances[0]
		if got := aws.ToString(d.Endpoint.Address); got != inst.Address || aws.ToInt32(d.Endpoint.Port) != int32(inst.Port) {
			t.Errorf("endpoint %s:%d, want %s:%d", got, aws.ToInt32(d.Endpoint.Port), inst.Address, inst.Port)
		}
		if aws.ToString(d.DBInstanceArn) != instARN || aws.ToString(d.DBInstanceIdentifier) != "orders-db" || aws.ToString(d.Engine) != "postgres" {
			t.Errorf("instance %s / %s / %s", aws.ToString(d.DBInstanceArn), aws.ToString(d.DBInstanceIdentifier), aws.ToString(d.Engine))
		}
	}
	out, err := c.DescribeDBClusters(t.Context(), &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(clARN)})
	if err != nil {
		t.Fatalf("DescribeDBClusters: %v", err)
	}
	if len(out.DBClusters) != 1 || aws.ToString(out.DBClusters[0].Endpoint) != cl.Endpoint || aws.ToInt32(out.DBClusters[0].Port) != int32(cl.Port) {
		t.Fatalf("DescribeDBClusters = %+v, want %s:%d", out.DBClusters, cl.Endpoint, cl.Port)
	}

	_, err = c.DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("nope")})
	if got := code(err); got != "DBInstanceNotFound" {
		t.Errorf("unknown instance: %s, want DBInstanceNotFound", got)
	}
	_, err = c.DescribeDBClusters(t.Context(), &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("nope")})
	if got := code(err); got != "DBClusterNotFoundFault" {
		t.Errorf("unknown cluster: %s, want DBClusterNotFoundFault", got)
	}
	// Another account does not see the owner's database, even by ARN.
	_, err = rds.NewFromConfig(s.AWSConfig(other, region)).DescribeDBInstances(t.Context(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(instARN)})
	if got := code(err); got != "DBInstanceNotFound" {
		t.Errorf("another account's instance: %s, want DBInstanceNotFound", got)
	}
	if n := s.Calls("DescribeDBInstances", owner.Account); n != 4 {
		t.Errorf("%d DescribeDBInstances calls by the owner, want 4", n)
	}
	if n := s.Calls("DescribeDBClusters", owner.Account); n != 2 {
		t.Errorf("%d DescribeDBClusters calls by the owner, want 2", n)
	}
	if n := s.Calls("DescribeDBInstances", other.Account); n != 1 {
		t.Errorf("%d DescribeDBInstances calls by the other account, want 1", n)
	}
	// STS still answers beside RDS.
	if _, err := stsClient(s, owner).GetCallerIdentity(t.Context(), nil); err != nil {
		t.Errorf("GetCallerIdentity: %v", err)
	}
}

// TestPlantSystemTag: TagResource refuses the reserved aws: prefix, but
// PlantSystemTag puts RDS's system tag on a secret, and DescribeSecret shows it.
func TestPlantSystemTag(t *testing.T) {
	s := localaws.Start(t)
	c := smClient(s, s.DefaultCredentials())
	out := mustCreate(t, c, "rds-db-1", `{"username":"master","password":"x"}`)
	const key = "aws:rds:primaryDBInstanceArn"
	val := "arn:aws:rds:" + region + ":" + localaws.DefaultAccount + ":db:db-1"
	_, err := c.TagResource(t.Context(), &secretsmanager.TagResourceInput{SecretId: out.ARN, Tags: []smtypes.Tag{{Key: aws.String(key), Value: aws.String(val)}}})
	if got := code(err); got != "InvalidParameterException" {
		t.Errorf("TagResource with an aws: key: %s, want InvalidParameterException", got)
	}
	if err := s.PlantSystemTag(aws.ToString(out.ARN), key, val); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: out.ARN})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tg := range d.Tags {
		if aws.ToString(tg.Key) == key && aws.ToString(tg.Value) == val {
			found = true
		}
	}
	if !found {
		t.Errorf("tags %v lack %s", d.Tags, key)
	}
	if err := s.PlantSystemTag("arn:aws:secretsmanager:"+region+":"+localaws.DefaultAccount+":secret:none-AbCdEf", key, val); err == nil {
		t.Error("PlantSystemTag on a missing secret: no error")
	}
}
