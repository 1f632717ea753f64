package saas

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// RecordKey is the key, in every version Rotary writes, that records the name
// Rotary gave the version's key: KeyName(secret ARN, token). With the key's ID
// (the adapter's IDKey) it is the record finishSecret checks before revoking
// the key of AWSPREVIOUS. Its value is not secret.
const RecordKey = "rotaryKeyName"

// Admin secret keys that restrict what an admin credential may be used for.
// Each holds a JSON array of strings (or one comma-separated string); when
// present, a rotation outside it is refused before any provider call.
const (
	// AllowSecretARNs lists the rotated secrets that may use the admin secret:
	// full secret ARNs, or prefixes ending in "*".
	AllowSecretARNs = "allowedSecretArns"
	// AllowAppIDs lists the Okta app IDs the admin token may rotate.
	AllowAppIDs = "allowedAppIds"
	// AllowAccountSIDs lists Twilio (sub)account SIDs, besides the admin's
	// own accountSid, whose keys the admin credential may rotate.
	AllowAccountSIDs = "allowedAccountSids"
	// AllowSubusers lists the SendGrid subusers (onBehalfOf) the admin key may
	// act for; "" (an empty string in the list) allows the parent account.
	AllowSubusers = "allowedSubusers"
)

var (
	// ErrNotOwned: the key a version names was not minted by Rotary for this
	// secret (or the provider does not confirm it), so Rotary leaves it alone.
	ErrNotOwned = errors.New("key is not one Rotary minted for this secret")
	// ErrNotAllowed: the admin secret may not be used for this rotation (its
	// allow-list, or a provider account other than the admin's own).
	ErrNotAllowed = errors.New("the admin secret does not allow this use")
)

// KeyInfo is what a provider says, through the admin credential, about a key.
type KeyInfo struct {
	// Exists is false when the provider has no such key (revoked already).
	Exists bool
	// Name is the key's name at the provider (named providers only).
	Name string
	// Holds is true when the provider shows the key's secret and it equals
	// the secret the version holds (providers without names).
	Holds bool
}

// allowList reads an admin allow-list key: a JSON array of strings or one
// comma-separated string. present is false when the key is absent.
func allowList(admin secret.Value, key string) (list []string, present bool, err error) {
	raw, ok := admin.Extra[key]
	if !ok {
		return nil, false, nil
	}
	if s, ok := admin.Get(key); ok {
		for part := range strings.SplitSeq(s, ",") {
			list = append(list, strings.TrimSpace(part))
		}
		return list, true, nil
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, true, fmt.Errorf("admin secret: %w", &secret.KeyError{Key: key, Problem: "must be a JSON array of strings"})
	}
	return list, true, nil
}

// allowed checks value against the admin allow-list key, when present. A
// pattern ending in "*" matches every value starting with the rest.
func allowed(admin secret.Value, key, what, value string) error {
	list, present, err := allowList(admin, key)
	if err != nil || !present {
		return err
	}
	for _, p := range list {
		if prefix, ok := strings.CutSuffix(p, "*"); ok && prefix != "" && strings.HasPrefix(value, prefix) {
			return nil
		}
		if p == value {
			return nil
		}
	}
	return fmt.Errorf("%w: %s %q is not in the admin secret's %s", ErrNotAllowed, what, value, key)
}

// sameSecret compares a secret the provider shows with the one a version
// holds, in constant time. It accepts the provider's masked form
// ("<start>......<end>", as Okta shows client secrets) when at least 16
// characters are visible and both parts match.
func sameSecret(shown, held string) bool {
	if shown == "" || held == "" {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(shown), []byte(held)) == 1 {
		return true
	}
	start, end, masked := strings.Cut(shown, "......")
	if !masked || len(start)+len(end) < 16 || len(start)+len(end) >= len(held) || strings.Contains(end, "......") {
		return false
	}
	a := subtle.ConstantTimeCompare([]byte(start), []byte(held[:len(start)]))
	b := subtle.ConstantTimeCompare([]byte(end), []byte(held[len(held)-len(end):]))
	return a&b == 1
}

// ownership is finishSecret's verdict on a stored key.
type ownership int

const (
	owned     ownership = iota // Rotary minted it for this secret: may be revoked
	gone                       // the provider has no such key
	unmanaged                  // no record and not Rotary's: never touched
	forged                     // a record that the provider contradicts: refused
)

// ownedBy decides whether the key a version holds is one Rotary minted for
// the secret with this ARN, asking the provider through the admin credential.
// A named provider's key is Rotary's when its name at the provider starts with
// SecretPrefix(secretARN) (and equals the version's record, when there is
// one); a key without names is Rotary's when the version records a name of
// this secret and the provider shows the key's secret as the one the version
// holds.
func (r *Rotator) ownedBy(info KeyInfo, secretARN string, v secret.Value) ownership {
	if !info.Exists {
		return gone
	}
	rec, _ := v.Get(RecordKey)
	prefix := SecretPrefix(secretARN)
	if r.spec.Named {
		switch {
		case strings.HasPrefix(info.Name, prefix) && (rec == "" || rec == info.Name):
			return owned
		case rec == "":
			return unmanaged
		}
		return forged
	}
	switch {
	case rec == "":
		return unmanaged
	case strings.HasPrefix(rec, prefix) && info.Holds:
		return owned
	}
	return forged
}
