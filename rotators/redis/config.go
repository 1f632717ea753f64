package redis

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/ascii"
	"github.com/rotary-secrets/rotary/shared/password"
)

// Engine is the value of the engine key this package rotates.
const Engine = "redis"

// Engines are the secret engine values this package rotates.
var Engines = []string{Engine}

// Environment variables read by ConfigFromEnv (the same names the database
// rotators read).
const (
	// EnvCABundle names a PEM file of CA certificates trusted in addition to
	// the system roots.
	EnvCABundle = rotators.EnvCABundle
	// EnvConnectTimeout is a Go duration ("5s") or a whole number of seconds
	// bounding each connection attempt, at most 10 minutes.
	EnvConnectTimeout = rotators.EnvConnectTimeout
)

// Keys the single-user rotator writes into the values it creates: the hex
// SHA-256 of a password, the form Redis itself keeps (ACL GETUSER lists it).
// They let finishSecret know which password to remove without reading the
// other versions. The secret's readers already hold the passwords they name
// (or held them: the retired one stops working at finishSecret); the engine
// treats them as secret like every unknown key, so no log line carries them.
const (
	// KeyReplacesSHA256 is the SHA-256 of the password this version
	// replaced: AWSCURRENT's when it was created, AWSPREVIOUS's once it is
	// current.
	KeyReplacesSHA256 = "redisReplacesSha256"
	// KeyRetiresSHA256 is the SHA-256 of the password finishSecret removes
	// when this version becomes current: the one AWSPREVIOUS held.
	KeyRetiresSHA256 = "redisRetiresSha256"
)

// DefaultConnectTimeout bounds each connection attempt when EnvConnectTimeout
// is unset.
const DefaultConnectTimeout = 5 * time.Second

// Sentinel errors, for errors.Is.
var (
	// ErrBadUsername: the user name is empty, too long or holds a character
	// outside the allowed set; nothing was sent to the server.
	ErrBadUsername = errors.New("redis: invalid user name")
	// ErrNotOwner: the credentials log in as another user than the secret's
	// username (ACL WHOAMI); the rotation changes nothing.
	ErrNotOwner = errors.New("redis: the credentials log in as another user than the secret names")
	// ErrNoLogin: none of the secret's versions logs in.
	ErrNoLogin = errors.New("redis: no version of the secret logs in")
	// ErrBadEndpoint: the secret has no usable host or port.
	ErrBadEndpoint = errors.New("redis: invalid endpoint")
	// ErrForgedRecord: the pending value records (KeyRetiresSHA256) that
	// finishSecret should remove the current password, which it did not
	// replace (KeyReplacesSHA256 names another or none): not a value
	// createSecret wrote. setSecret refuses it before it changes anything.
	ErrForgedRecord = errors.New("redis: the pending value's records would retire the current password")
)

// Config is what the rotator needs besides the secret.
type Config struct {
	// Passwords is the policy new passwords are generated with.
	Passwords password.Policy
	// RootCAs verifies server certificates; nil means the system roots plus
	// CABundleFile's certificates, loaded on the first TLS connection.
	RootCAs *x509.CertPool
	// CABundleFile is a PEM file of CA certificates trusted in addition to
	// the system roots when RootCAs is nil. Empty: system roots only.
	CABundleFile string
	// ConnectTimeout bounds each connection attempt; zero means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// ConfigFromEnv reads a Config through getenv: the password policy of AWS's
// template variables, ROTARY_CA_BUNDLE and ROTARY_CONNECT_TIMEOUT. Anything
// malformed is an error, so a function fails at start-up.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var cfg Config
	p, err := password.FromEnv(getenv, "")
	if err != nil {
		return cfg, fmt.Errorf("redis config: %w", err)
	}
	cfg.Passwords = p
	if cfg.ConnectTimeout, err = rotators.ConnectTimeoutFromEnv(getenv, DefaultConnectTimeout); err != nil {
		return cfg, fmt.Errorf("redis config: %w", err)
	}
	if cfg.CABundleFile, err = rotators.CABundleFileFromEnv(getenv); err != nil {
		return cfg, fmt.Errorf("redis config: %w", err)
	}
	return cfg, nil
}

// maxUsername bounds a user name (Redis has no limit; a secret's user name
// longer than this is a mistake or an attack).
const maxUsername = 128

// checkUsername refuses a user name that could be read as anything but one
// ACL user: it starts with a letter, a digit or _, and holds only letters,
// digits and . _ - @ + :.
func checkUsername(name string) error {
	if name == "" || len(name) > maxUsername {
		return fmt.Errorf("%w: must be 1 to %d characters", ErrBadUsername, maxUsername)
	}
	if c := name[0]; !ascii.IsAlnum(c) && c != '_' {
		return fmt.Errorf("%w: must start with a letter, a digit or _", ErrBadUsername)
	}
	if !ascii.Chars(name, 1, maxUsername, "._-@+:") {
		return fmt.Errorf("%w: only letters, digits and . _ - @ + : are allowed", ErrBadUsername)
	}
	return nil
}
