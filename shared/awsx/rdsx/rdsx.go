package rdsx

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/awsx"
)

// System tags RDS puts on the master user secrets it manages.
const (
	TagRDSPrimaryInstance = "aws:rds:primaryDBInstanceArn"
	TagRDSPrimaryCluster  = "aws:rds:primaryDBClusterArn"
)

// ErrNotRDSManaged reports a master secret without RDS's system tag, so its
// database cannot be found through the RDS API.
var ErrNotRDSManaged = errors.New("master secret has no aws:rds:primaryDBInstanceArn or aws:rds:primaryDBClusterArn tag")

// rdsAPI is the part of the RDS client Endpoints uses.
type rdsAPI interface {
	DescribeDBInstances(ctx context.Context, in *rds.DescribeDBInstancesInput, optFns ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	DescribeDBClusters(ctx context.Context, in *rds.DescribeDBClustersInput, optFns ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
}

// Endpoints finds the endpoint of the database an RDS-managed master secret
// belongs to: DescribeSecret on the master secret (through Clients, so in the
// secret's own account) for its aws:rds:primaryDBInstanceArn or
// aws:rds:primaryDBClusterArn tag, then DescribeDBInstances or
// DescribeDBClusters in that account and region. A tag naming a database in
// another partition, region or account is refused (ErrForeignRDSResource)
// before any RDS call. It implements
// rotators.EndpointResolver.
// It reads no secret value.
type Endpoints struct {
	clients *awsx.Clients
	rdsOpts []func(*rds.Options)
	cache   awsx.ClientCache[*rds.Client] // one RDS client per account and region
}

// NewEndpoints returns a resolver using c's clients and credentials;
// optFns adjust the RDS client (e.g. BaseEndpoint in tests).
func NewEndpoints(c *awsx.Clients, optFns ...func(*rds.Options)) *Endpoints {
	return &Endpoints{clients: c, rdsOpts: optFns}
}

// ResolveEndpoint returns the host and port of the master secret's database
// (a cluster's writer endpoint for a cluster). dbInstanceID and dbClusterID,
// the user secret's identifiers, must name the same database when set. A
// member-role session opened here is named after token, the rotation's
// ClientRequestToken, like the engine's own.
func (r *Endpoints) ResolveEndpoint(ctx context.Context, masterARN, token, dbInstanceID, dbClusterID string) (string, int, error) {
	loc, err := awsx.ParseSecretARN(masterARN)
	if err != nil {
		return "", 0, err
	}
	acct, err := r.clients.Account(ctx, loc, token)
	if err != nil {
		return "", 0, err
	}
	desc, err := acct.SecretsManager().DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(masterARN)})
	if err != nil {
		return "", 0, fmt.Errorf("describe master secret: %w", err)
	}
	var instanceARN, clusterARN string
	for _, tag := range desc.Tags {
		switch strings.ToLower(aws.ToString(tag.Key)) {
		case strings.ToLower(TagRDSPrimaryInstance):
			instanceARN = aws.ToString(tag.Value)
		case strings.ToLower(TagRDSPrimaryCluster):
			clusterARN = aws.ToString(tag.Value)
		}
	}
	if instanceARN == "" && clusterARN == "" {
		return "", 0, ErrNotRDSManaged
	}
	client := r.cache.Get(acct, func(cfg aws.Config) *rds.Client { return rds.NewFromConfig(cfg, r.rdsOpts...) })
	return resolveRDS(ctx, client, loc, instanceARN, clusterARN, dbInstanceID, dbClusterID)
}

// ErrForeignRDSResource reports an RDS tag naming a DB instance or cluster
// outside the master secret's own partition, region and account (or not an RDS
// instance or cluster ARN at all): its endpoint is not asked for.
var ErrForeignRDSResource = errors.New("the master secret's RDS tag names a database outside the secret's own account and region")

// checkRDSARN checks that a tag value is the ARN of an RDS resource of kind
// ("db" or "cluster") in loc's partition, region and account.
func checkRDSARN(tagARN, kind string, loc awsx.SecretLocation) error {
	a, err := arn.Parse(tagARN)
	if err != nil || a.Service != "rds" || !strings.HasPrefix(a.Resource, kind+":") || len(a.Resource) == len(kind)+1 {
		return fmt.Errorf("%w: %q is not an RDS %s ARN", ErrForeignRDSResource, tagARN, kind)
	}
	if a.Partition != loc.Partition || a.Region != loc.Region || a.AccountID != loc.Account {
		return fmt.Errorf("%w: %s is in %s/%s/%s, the secret in %s/%s/%s", ErrForeignRDSResource, tagARN,
			a.Partition, a.Region, a.AccountID, loc.Partition, loc.Region, loc.Account)
	}
	return nil
}

// resolveRDS asks RDS for the tagged instance's or cluster's endpoint, after
// checking that the tag names a database of the secret's own account and
// region.
func resolveRDS(ctx context.Context, client rdsAPI, loc awsx.SecretLocation, instanceARN, clusterARN, dbInstanceID, dbClusterID string) (string, int, error) {
	if instanceARN != "" {
		if err := checkRDSARN(instanceARN, "db", loc); err != nil {
			return "", 0, err
		}
		if dbInstanceID != "" && !sameIdentifier(instanceARN, dbInstanceID) {
			return "", 0, fmt.Errorf("master secret belongs to DB instance %s, not the user secret's dbInstanceIdentifier %q", instanceARN, dbInstanceID)
		}
		out, err := client.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(instanceARN)})
		if err != nil {
			return "", 0, fmt.Errorf("describe DB instance %s: %w", instanceARN, err)
		}
		if len(out.DBInstances) == 0 || out.DBInstances[0].Endpoint == nil {
			return "", 0, fmt.Errorf("describe DB instance %s: no instance or no endpoint yet", instanceARN)
		}
		ep := out.DBInstances[0].Endpoint
		return aws.ToString(ep.Address), int(aws.ToInt32(ep.Port)), nil
	}
	if err := checkRDSARN(clusterARN, "cluster", loc); err != nil {
		return "", 0, err
	}
	if dbClusterID != "" && !sameIdentifier(clusterARN, dbClusterID) {
		return "", 0, fmt.Errorf("master secret belongs to DB cluster %s, not the user secret's dbClusterIdentifier %q", clusterARN, dbClusterID)
	}
	out, err := client.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(clusterARN)})
	if err != nil {
		return "", 0, fmt.Errorf("describe DB cluster %s: %w", clusterARN, err)
	}
	if len(out.DBClusters) == 0 || out.DBClusters[0].Endpoint == nil {
		return "", 0, fmt.Errorf("describe DB cluster %s: no cluster or no endpoint yet", clusterARN)
	}
	c := out.DBClusters[0]
	return aws.ToString(c.Endpoint), int(aws.ToInt32(c.Port)), nil
}

// sameIdentifier reports whether id names the resource of arn (an identifier
// or the ARN itself; RDS identifiers are case-insensitive).
func sameIdentifier(arn, id string) bool {
	if strings.EqualFold(arn, id) {
		return true
	}
	i := strings.LastIndex(arn, ":")
	return i >= 0 && strings.EqualFold(arn[i+1:], id)
}

// errNoEndpoint is returned when RDS describes the database without an
// endpoint.
var errNoEndpoint = errors.New("RDS gave no endpoint for the master secret's database")

// Resolver returns the RDS endpoint resolver of a function's clients, as
// function start-up takes it (lambdamain.Run). It never answers without an
// endpoint: a master secret that is not RDS-managed is an error wrapping
// ErrNotRDSManaged, and an empty host from RDS is an error too, so a rotator
// can only refuse such a master secret, never fall back to the user secret's
// endpoint.
func Resolver(c *awsx.Clients) rotators.EndpointResolver { return nonEmpty{NewEndpoints(c)} }

// Wire sets deps.Endpoints to Resolver(c); it is a lambdamain.Wiring, for
// the functions with a database strategy that reads a master secret.
func Wire(c *awsx.Clients, deps *rotators.Deps) { deps.Endpoints = Resolver(c) }

type nonEmpty struct{ r *Endpoints }

// ResolveEndpoint returns the master secret's database endpoint or an error.
func (x nonEmpty) ResolveEndpoint(ctx context.Context, masterARN, token, dbInstanceID, dbClusterID string) (string, int, error) {
	host, port, err := x.r.ResolveEndpoint(ctx, masterARN, token, dbInstanceID, dbClusterID)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		return "", 0, errNoEndpoint
	}
	return host, port, nil
}
