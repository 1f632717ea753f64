package rig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rotary-secrets/rotary/shared/secret"
	"github.com/rotary-secrets/rotary/test/dbtest"
)

// LDAP is an OpenLDAP Target (single user only: no master users): users are
// uid entries under ou=people, reached over verified LDAPS.
type LDAP struct{ DB *dbtest.Slapd }

var _ Target = LDAP{}

// StartLDAP starts a throwaway slapd (test/dbtest) outside any test and
// checks that it refuses a wrong password. stop shuts it down and removes its
// files; call it even when err is not nil.
func StartLDAP(ctx context.Context) (l LDAP, stop func(), err error) {
	tb := newProgramTB(ctx, "slapd")
	err = tb.run(func() { l = LDAP{DB: dbtest.StartSlapd(tb)} })
	if err == nil {
		err = l.CheckPasswordEnforced(ctx)
	}
	return l, tb.cleanup, err
}

// Engine returns "ldap".
func (l LDAP) Engine() string { return "ldap" }

// Addr returns host:port of the LDAPS listener.
func (l LDAP) Addr() string { return net.JoinHostPort(l.DB.Host, strconv.Itoa(l.DB.LDAPSPort)) }

// CAFile returns the server's CA file.
func (l LDAP) CAFile() string { return l.DB.CA.CAFile }

// CreateUser creates the entry uid=name under ou=people. There are no LDAP
// master users here.
func (l LDAP) CreateUser(ctx context.Context, name, password string, master bool) error {
	if master {
		return errors.New("ldap: the rig has no master users (single user only)")
	}
	_, err := l.DB.CreateUser(ctx, name, password)
	return err
}

// Login binds as user (a DN, or a uid under ou=people).
func (l LDAP) Login(ctx context.Context, user, password string) error {
	dn := user
	if !strings.Contains(user, "=") {
		dn = dbtest.UserDN(user)
	}
	err := l.DB.Login(ctx, dn, password)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		return fmt.Errorf("%w: %s", ErrRejected, dn)
	}
	if err != nil {
		return scrub(err, password)
	}
	return nil
}

// Secret is the secret value for user: its DN over LDAPS.
func (l LDAP) Secret(user, password string) secret.Value {
	return secret.Value{Engine: "ldap", Host: l.DB.Host, Port: l.DB.LDAPSPort, Username: dbtest.UserDN(user), Password: password}
}

// CheckPasswordEnforced returns an error unless a wrong rootdn password is
// refused.
func (l LDAP) CheckPasswordEnforced(ctx context.Context) error {
	err := l.DB.Login(ctx, l.DB.RootDN, "wrong-"+RandomHex(8))
	if !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		return fmt.Errorf("ldap: a wrong password was not refused: %v", err)
	}
	return nil
}
