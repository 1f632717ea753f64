package postgres

import (
	"fmt"
	"github.com/rotary-secrets/rotary/rotators/dbrotator"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rotary-secrets/rotary/shared/secret"
)

// checkSecret validates a user secret before any connection: the keys AWS's
// templates require, a supported engine and a role name PostgreSQL will not
// truncate or alter.
func checkSecret(v secret.Value) error {
	if err := v.Require(secret.KeyEngine, secret.KeyHost, secret.KeyUsername, secret.KeyPassword); err != nil {
		return err
	}
	if err := checkEngine(v.Engine); err != nil {
		return err
	}
	if err := dbrotator.CheckHost(v.Host); err != nil {
		return err
	}
	return checkUsername(secret.KeyUsername, v.Username)
}

func checkEngine(engine string) error {
	if !slices.Contains(Engines, strings.ToLower(engine)) {
		return &secret.KeyError{Key: secret.KeyEngine, Problem: fmt.Sprintf("must be one of %s for this rotator", strings.Join(Engines, ", "))}
	}
	return nil
}

// checkUsername refuses role names the server would change: longer than 63
// bytes (silently truncated, possibly to another role's name), NUL bytes
// (dropped by identifier quoting) or invalid UTF-8.
func checkUsername(key, name string) error {
	switch {
	case name == "":
		return &secret.KeyError{Key: key, Problem: "is missing or empty"}
	case len(name) > MaxNameLen:
		return &secret.KeyError{Key: key, Problem: fmt.Sprintf("is %d bytes long; PostgreSQL role names are at most %d bytes (longer names are truncated to another name)", len(name), MaxNameLen)}
	case strings.ContainsRune(name, 0):
		return &secret.KeyError{Key: key, Problem: "contains a NUL byte"}
	case !utf8.ValidString(name):
		return &secret.KeyError{Key: key, Problem: "is not valid UTF-8"}
	}
	return nil
}

// Alternate returns the other user of an alternating pair, as AWS's template
// names it: "name" and "name_clone". The clone's name must fit PostgreSQL's
// 63-byte limit.
// A name that already ends in "_clone" alternates with the name without it,
// so an original role whose name ends in "_clone" cannot be rotated this way.
func Alternate(username string) (string, error) {
	if username == "" {
		return "", &secret.KeyError{Key: secret.KeyUsername, Problem: "is missing or empty"}
	}
	if base, ok := strings.CutSuffix(username, CloneSuffix); ok && base != "" {
		return base, nil
	}
	alt := username + CloneSuffix
	if len(alt) > MaxNameLen {
		return "", &secret.KeyError{Key: secret.KeyUsername, Problem: fmt.Sprintf("is too long to clone: with %q appended it would be %d bytes, more than PostgreSQL's %d", CloneSuffix, len(alt), MaxNameLen)}
	}
	return alt, nil
}

// pairOf returns the original (base) and clone names of a user's pair.
func pairOf(username string) (base, clone string) {
	if b, ok := strings.CutSuffix(username, CloneSuffix); ok && b != "" {
		return b, username
	}
	return username, username + CloneSuffix
}
