package rotators

import (
	"context"
	"time"
)

// AccessKey describes one IAM access key of a user. It holds no secret: the
// secret access key is returned only by AccessKeyAPI.CreateAccessKey.
type AccessKey struct {
	ID      string    // access key ID (AKIA…)
	Active  bool      // Status Active (false: Inactive)
	Created time.Time // CreateDate
}

// AccessKeyAPI is the part of the IAM API (and STS, to verify a key) the
// iam-access-key rotator uses, already bound to one secret's own account.
// Implementations return errors that never hold a secret access key.
type AccessKeyAPI interface {
	// User returns the IAM user's ARN and tags (iam:GetUser).
	User(ctx context.Context, user string) (arn string, tags map[string]string, err error)
	// ListAccessKeys lists the user's access keys (iam:ListAccessKeys).
	ListAccessKeys(ctx context.Context, user string) ([]AccessKey, error)
	// CreateAccessKey creates an active key for user (iam:CreateAccessKey)
	// and returns its ID and secret access key.
	CreateAccessKey(ctx context.Context, user string) (id, secretKey string, err error)
	// SetAccessKeyActive sets the key's status (iam:UpdateAccessKey).
	SetAccessKeyActive(ctx context.Context, user, id string, active bool) error
	// DeleteAccessKey deletes the key (iam:DeleteAccessKey); a key that no
	// longer exists is not an error.
	DeleteAccessKey(ctx context.Context, user, id string) error
	// TagUser sets one tag on the user (iam:TagUser); the iam-access-key
	// rotator writes only its minting-intent tag with it.
	TagUser(ctx context.Context, user, key, value string) error
	// CallerARN signs sts:GetCallerIdentity with the given key and returns
	// the ARN STS answers, proving the key works and whose it is.
	CallerARN(ctx context.Context, id, secretKey string) (string, error)
}

// AccessKeyClients opens the AccessKeyAPI of the account a secret lives in:
// in central mode through the member role assumed for that account (the same
// credentials as the secret's Secrets Manager client), never another
// account's. token is the rotation's token (it names the STS session).
type AccessKeyClients interface {
	AccessKeys(ctx context.Context, secretARN, token string) (AccessKeyAPI, error)
}
