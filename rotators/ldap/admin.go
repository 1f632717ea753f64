package ldap

import (
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // {SSHA} is the salted hash every OpenLDAP verifies without extra modules
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// AdminPassword is the admin-driven strategy, the value of a secret's
// rotationStrategy key: the master DN (from the secret named by masterarn)
// replaces the user's userPassword with a salted hash.
const AdminPassword = "admin-password"

// Sentinels of the admin-driven strategy.
var (
	// ErrNoMaster is returned when an admin-password secret has no
	// masterarn or the master secret does not exist.
	ErrNoMaster = errors.New("ldap: admin-password rotation needs a master secret (masterarn)")
	// ErrEndpointMismatch is returned when the user secret names another
	// server than the master secret: the master password goes only to the
	// master secret's own host and port.
	ErrEndpointMismatch = errors.New("ldap: the user secret's host, port and tlsMode are not the master secret's")
	// ErrNotOwner is returned when neither the user secret's current nor its
	// pending password binds as its DN: the master changes only an entry
	// whose password the secret already holds.
	ErrNotOwner = errors.New("ldap: the secret does not hold the user's password, so the master will not change it")
	// ErrMasterIsUser is returned when the user DN is the master DN.
	ErrMasterIsUser = errors.New("ldap: the user DN is the master DN")
)

// NewAdmin returns the admin-driven rotator: the master DN replaces the
// user's userPassword with an {SSHA} hash computed here, so the cleartext
// password is never sent to the server (it is sent only in the user's own
// bind in testSecret, over verified TLS).
func NewAdmin(cfg Config) *Rotator {
	r := NewSingleUser(cfg)
	r.admin = true
	return r
}

// SSHA returns pw's OpenLDAP {SSHA} userPassword value: base64 of
// SHA-1(pw || salt) || salt, with a 16-byte random salt.
func SSHA(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	return sshaWithSalt(pw, salt), nil
}

func sshaWithSalt(pw string, salt []byte) string {
	h := sha1.New() //nolint:gosec // see import
	h.Write([]byte(pw))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}

// masterTarget loads and checks the master secret: it must exist, name a
// host (there is no resolver for directories) and be the same server, port
// and TLS mode as the user secret. The master's TLS settings are its own.
func masterTarget(ctx context.Context, load rotators.Loader, user target) (target, secret.Value, error) {
	if load == nil {
		return target{}, secret.Value{}, ErrNoMaster
	}
	mv, ok, err := load(ctx)
	if err != nil {
		return target{}, secret.Value{}, fmt.Errorf("read master secret: %w", err)
	}
	if !ok {
		return target{}, secret.Value{}, ErrNoMaster
	}
	m, err := parseTarget(mv, true)
	if err != nil {
		return target{}, secret.Value{}, fmt.Errorf("master secret: %w", err)
	}
	if !strings.EqualFold(m.host, user.host) || m.port != user.port || m.tlsMode != user.tlsMode {
		return target{}, secret.Value{}, ErrEndpointMismatch
	}
	if sameDN(m.dn, user.dn) {
		return target{}, secret.Value{}, ErrMasterIsUser
	}
	return m, mv, nil
}

// setAsAdmin makes req.Pending's password the user's: done already when the
// pending password binds; otherwise the current one must bind (the secret
// holds the entry's password: the master is not a deputy for someone else's
// entry), and the master replaces userPassword with the pending password's
// {SSHA} hash.
func (r *Rotator) setAsAdmin(ctx context.Context, req rotators.SetRequest, user target) error {
	if req.Current.MasterARN == "" {
		return fmt.Errorf("setSecret: %w", ErrNoMaster)
	}
	m, mv, err := masterTarget(ctx, req.Master, user)
	if err != nil {
		return fmt.Errorf("setSecret: %w", err)
	}
	c, err := r.bind(ctx, user, req.Current.Password)
	if err != nil {
		if !errors.Is(err, ErrRejected) {
			return fmt.Errorf("setSecret: bind as current: %w", err)
		}
		pc, perr := r.bind(ctx, user, req.Pending.Password)
		if perr != nil {
			if errors.Is(perr, ErrRejected) {
				return fmt.Errorf("setSecret: %w", ErrNotOwner)
			}
			return fmt.Errorf("setSecret: bind as pending: %w", perr)
		}
		_ = pc.Close()
		return nil
	}
	_ = c.Close()
	hash, err := SSHA(req.Pending.Password)
	if err != nil {
		return fmt.Errorf("setSecret: %w", err)
	}
	mc, err := r.bind(ctx, m, mv.Password)
	if err != nil {
		return fmt.Errorf("setSecret: bind as master: %w", err)
	}
	defer mc.Close()
	mod := goldap.NewModifyRequest(user.dn, nil)
	mod.Replace("userPassword", []string{hash})
	if err := mc.Modify(mod); err != nil {
		return fmt.Errorf("setSecret: replace userPassword of %s: %w", user.dn, withoutHash(ldapErr(ctx, err), hash))
	}
	return nil
}

// scrubbedError is an error whose message had a password hash taken out;
// errors.Is and errors.As still see the original.
type scrubbedError struct {
	msg string
	err error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return e.err }

// withoutHash keeps hash, an {SSHA} value, out of err's message, whole or as
// its base64 part: the engine scrubs the secret's own values but does not
// know the hash, and a server (the secret writer's choice) may quote the
// request it refuses in its diagnostic message.
func withoutHash(err error, hash string) error {
	msg := err.Error()
	b64 := strings.TrimPrefix(hash, "{SSHA}")
	if !strings.Contains(msg, b64) {
		return err
	}
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, hash, "[REDACTED]"), b64, "[REDACTED]")
	return scrubbedError{msg: msg, err: err}
}
