package rotators

import (
	"context"
	"net/http"
	"time"
)

// EndpointResolver finds the endpoint of the database an RDS-managed master
// secret belongs to (such secrets hold only a username and password): an
// implementation reads the master secret's aws:rds:primaryDBInstanceArn or
// aws:rds:primaryDBClusterArn tag and asks the RDS API, so no rotator needs
// the AWS SDK. token is the rotation's ClientRequestToken (Rotation.Token,
// never the RotationToken): an implementation that opens a session for the
// master secret's account names it after token, as the engine names its
// own. dbInstanceID and dbClusterID are the user secret's
// dbInstanceIdentifier and dbClusterIdentifier (either may be empty). An
// error, or an empty host, means the endpoint is unknown, and the master
// secret is then not used. One resolver serves every database engine.
type EndpointResolver interface {
	ResolveEndpoint(ctx context.Context, masterARN, token, dbInstanceID, dbClusterID string) (host string, port int, err error)
}

// ElastiCacheUser is what the ElastiCache API says about an RBAC user
// (DescribeUsers). None of its fields is secret.
type ElastiCacheUser struct {
	ARN            string // arn:<partition>:elasticache:<region>:<account>:user:<id>
	UserID         string
	UserName       string // the name clients log in with
	Status         string // "active", "modifying", "deleting"
	Engine         string // "redis", "valkey"
	Authentication string // "password", "iam", "no-password"
	PasswordCount  int
}

// ElastiCacheUsers is the part of the ElastiCache API the elasticache
// rotator uses, in the account and region of the secret it rotates: an
// implementation (shared/awsx/elasticachex) gets that account's credentials
// for secretARN the way Secrets Manager clients are had (an assumed member
// role in central mode, its session named after token, the rotation's
// ClientRequestToken: Rotation.Token, never the RotationToken), so no
// rotator needs the AWS SDK.
type ElastiCacheUsers interface {
	// DescribeUser returns the user userID in the region of secretARN.
	DescribeUser(ctx context.Context, secretARN, token, userID string) (ElastiCacheUser, error)
	// SetPasswords replaces the user's passwords with passwords (one or two;
	// ModifyUser's Passwords), changing nothing else (no access string).
	SetPasswords(ctx context.Context, secretARN, token, userID string, passwords []string) error
	// UserTags returns the tags of the user userARN (ListTagsForResource), in
	// the account and region of secretARN: the rotator reads TagSecret from
	// them before it changes anything.
	UserTags(ctx context.Context, secretARN, token, userARN string) (map[string]string, error)
}

// Deps are what function start-up passes to a rotator package when it builds
// the package's rotators: each rotator gets its dependencies at construction,
// none is installed afterwards. A package uses the ones it needs and ignores
// the others.
type Deps struct {
	// Getenv reads the package's settings (nil reads none: every setting
	// takes its default). A bad setting is an error at start-up.
	Getenv func(string) string
	// Endpoints resolves RDS-managed master secrets (database rotators);
	// nil refuses every master secret without a host.
	Endpoints EndpointResolver
	// ElastiCache is the ElastiCache user API of each secret's own account
	// (the elasticache rotator); nil refuses every ElastiCache secret.
	ElastiCache ElastiCacheUsers
	// HTTP is the client for target APIs (SaaS rotators); nil means the
	// package's own default client.
	HTTP *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AccessKeys opens the IAM access-key API of a secret's own account
	// (iam-access-key rotator); nil refuses every such rotation.
	AccessKeys AccessKeyClients
}

// Env returns the setting name through Getenv, or "" without one.
func (d Deps) Env(name string) string {
	if d.Getenv == nil {
		return ""
	}
	return d.Getenv(name)
}

// Builder adds rotators to reg, each built with deps. A function's main.go
// passes one to start-up (lambdamain.Run); each engine package exports a
// Build function (postgres.Build, mysql.Build, saas.Build, generic.Build)
// taking the strategies or engines a function carries.
type Builder func(reg *Registry, deps Deps) error
