package saas

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// Adapter is one provider's key API: the verbs the Rotator needs. An adapter
// holds no state between calls and never logs. Every error it returns names
// the operation and the HTTP status, and never holds a key, an admin
// credential or an unscrubbed provider body (use Client.Do with Request.Secrets).
type Adapter interface {
	// Spec describes the adapter's engine and secret JSON.
	Spec() Spec

	// Create mints a new key named req.Name, with the same permissions as the
	// current key where the provider has permissions, and returns its ID and
	// its secret (which the provider shows only now).
	Create(ctx context.Context, req CreateKeyRequest) (Key, error)

	// Verify proves key authenticates, with one cheap authenticated call that
	// changes nothing. It returns an error wrapping ErrUnauthorized when the
	// provider refuses the key.
	Verify(ctx context.Context, req VerifyKeyRequest) error

	// Revoke makes the key unusable and removes it. A key that does not exist
	// (already revoked) is success.
	Revoke(ctx context.Context, req RevokeKeyRequest) error

	// Find returns the IDs of live keys whose name req.Match accepts, except
	// those in req.Keep. A provider whose keys carry no name (Okta client
	// secrets, Spec.Named false) returns instead the keys whose secret, as the
	// provider shows it, is req.Holds, and nothing when req.Holds is empty:
	// it never returns a key it cannot prove is the caller's.
	Find(ctx context.Context, req FindKeysRequest) ([]string, error)

	// Describe reads, with the admin credential, the key with ID req.Key.ID
	// under the secret's provider settings: whether it exists, its name, and
	// (for providers without names) whether the provider shows req.Key.Secret
	// as its secret. The Rotator decides from it whether the key is one Rotary
	// minted for the secret.
	Describe(ctx context.Context, req DescribeKeyRequest) (KeyInfo, error)

	// Permit checks, without calling the provider, that the admin secret may
	// be used for the rotated secret's provider settings: the admin's account
	// and allow-lists. Its error wraps ErrNotAllowed or a *secret.KeyError.
	Permit(v, admin secret.Value) error
}

// Spec describes an adapter.
type Spec struct {
	// Engine is the secret's engine value this adapter handles, e.g. "sendgrid".
	Engine string
	// IDKey is the secret JSON key holding the key's ID (not secret).
	IDKey string
	// SecretKey is the secret JSON key holding the key's secret.
	SecretKey string
	// Required lists other keys the rotated secret must have.
	Required []string
	// Named is true when keys carry a name Find can match. When false, Find
	// treats every key not held by AWSCURRENT or AWSPREVIOUS as a leftover.
	Named bool
	// MaxKeys is the most keys the provider keeps per owner (0: no small
	// limit). When set, Create revokes the AWSPREVIOUS key before minting,
	// since Finish would revoke it anyway and the new key needs its slot.
	MaxKeys int
	// ChoosesSecret is true when the provider accepts a secret chosen by the
	// caller: the Rotator then passes one in CreateKeyRequest.NewSecret, so
	// that a key whose mint answer was lost can be found by its secret.
	ChoosesSecret bool
}

// Key is one API key. String, GoString, Format and LogValue never show Secret.
type Key struct {
	ID     string
	Secret string
}

// String implements fmt.Stringer without the secret.
func (k Key) String() string { return fmt.Sprintf("saas.Key{ID:%q}", k.ID) }

// GoString keeps %#v from printing the secret.
func (k Key) GoString() string { return k.String() }

// Format keeps every verb from printing the secret.
func (k Key) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// LogValue implements slog.LogValuer without the secret.
func (k Key) LogValue() slog.Value { return slog.GroupValue(slog.String("id", k.ID)) }

// CreateKeyRequest is the input to Adapter.Create.
type CreateKeyRequest struct {
	Secret  secret.Value // AWSCURRENT: provider settings and the current key
	Current Key          // the AWSCURRENT key
	Admin   secret.Value // the admin secret named by masterarn
	Name    string       // the name to give the key: KeyName(secret ARN, token)
	// NewSecret is the secret to give the key when Spec.ChoosesSecret.
	NewSecret string
}

// DescribeKeyRequest is the input to Adapter.Describe.
type DescribeKeyRequest struct {
	Secret secret.Value // the version holding Key: provider settings
	Admin  secret.Value
	Key    Key
}

// VerifyKeyRequest is the input to Adapter.Verify.
type VerifyKeyRequest struct {
	Secret secret.Value // the version holding Key: provider settings
	Key    Key
}

// RevokeKeyRequest is the input to Adapter.Revoke.
type RevokeKeyRequest struct {
	Secret secret.Value // a version of the rotated secret: provider settings
	Admin  secret.Value
	KeyID  string
}

// FindKeysRequest is the input to Adapter.Find.
type FindKeysRequest struct {
	Secret secret.Value
	Admin  secret.Value
	Name   string   // the name to match
	Prefix bool     // match every name starting with Name
	Keep   []string // key IDs held by stored versions: never returned
	Holds  string   // providers without names: the secret of the key to find
}

// Match reports whether a key with this name and ID is one Find should
// return.
func (r FindKeysRequest) Match(name, id string) bool {
	if id == "" || contains(r.Keep, id) {
		return false
	}
	if r.Prefix {
		return strings.HasPrefix(name, r.Name)
	}
	return name == r.Name
}

// secretsOf lists every secret value in the given versions, for scrubbing.
func secretsOf(vs ...secret.Value) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Secrets()...)
	}
	return out
}
