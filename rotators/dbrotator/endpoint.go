package dbrotator

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/rotary-secrets/rotary/rotators"
	"github.com/rotary-secrets/rotary/shared/secret"
)

// CheckHost refuses a secret's host that a driver would read as something
// else than one server's name or address: a path (PostgreSQL's driver dials
// a unix socket in a directory, MySQL's a socket file) or whitespace. It
// names the key, never the value.
func CheckHost(host string) error {
	if strings.ContainsAny(host, "/ \t\n") {
		return &secret.KeyError{Key: secret.KeyHost, Problem: "is not a host name or address"}
	}
	return nil
}

// Endpoint is a database server's address: a host name or address and a
// port. None of it is secret.
type Endpoint struct {
	Host string
	Port int
}

// String is host:port, for errors.
func (e Endpoint) String() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// Same reports whether e and o name the same server (host names compared
// without regard to case).
func (e Endpoint) Same(o Endpoint) bool { return strings.EqualFold(e.Host, o.Host) && e.Port == o.Port }

// MasterEndpoint decides where the master credential of an alternating-users
// rotation may be sent, from the master secret alone: its own host and port
// (defaultPort when it has none) when it names a host; else the endpoint res
// gives for an RDS-managed master secret (one without host). A master secret
// without host that names a port other than its RDS database's is refused
// (ErrEndpointMismatch): the secret contradicts RDS, and guessing which is
// right would let whoever wrote it pick. With no host and no endpoint (nil
// res, not RDS-managed, an RDS error, a host that is not one) it is refused
// (ErrMasterEndpoint). The user secret cur must name that same server
// (ErrEndpointMismatch): a user secret never chooses where the master
// password goes. TLS is the caller's business (from the master secret's own
// "ssl" key, never the user secret's). token is the rotation's
// ClientRequestToken, passed to res (it names the sessions res opens).
func MasterEndpoint(ctx context.Context, res rotators.EndpointResolver, token string, cur, master secret.Value, defaultPort int) (Endpoint, error) {
	user := Endpoint{Host: cur.Host, Port: cur.Port}
	if user.Port == 0 {
		user.Port = defaultPort
	}
	mep := Endpoint{Host: master.Host, Port: master.Port}
	if master.Host == "" {
		if res == nil {
			return Endpoint{}, fmt.Errorf("%w: it has no host and no RDS endpoint resolver is configured; put \"host\" (and \"port\") in the master secret", ErrMasterEndpoint)
		}
		host, port, err := res.ResolveEndpoint(ctx, cur.MasterARN, token, cur.DBInstanceIdentifier, cur.DBClusterIdentifier)
		if err != nil {
			return Endpoint{}, fmt.Errorf("%w: resolve the RDS endpoint of the master secret (it has no host): %w", ErrMasterEndpoint, err)
		}
		if host == "" {
			return Endpoint{}, fmt.Errorf("%w: it has no host and is not an RDS-managed secret (no aws:rds:primaryDBInstanceArn or aws:rds:primaryDBClusterArn tag); put \"host\" (and \"port\") in the master secret", ErrMasterEndpoint)
		}
		if CheckHost(host) != nil {
			return Endpoint{}, fmt.Errorf("%w: the RDS endpoint resolver gave no usable host", ErrMasterEndpoint)
		}
		if port == 0 {
			port = defaultPort
		}
		if master.Port != 0 && master.Port != port {
			return Endpoint{}, fmt.Errorf("%w: the master secret's port %d is not its RDS database's (%s)", ErrEndpointMismatch, master.Port, Endpoint{Host: host, Port: port})
		}
		mep = Endpoint{Host: host, Port: port}
	}
	if mep.Port == 0 {
		mep.Port = defaultPort
	}
	if !mep.Same(user) {
		return Endpoint{}, fmt.Errorf("%w (user secret: %s, master: %s); the master credential is only sent to its own server",
			ErrEndpointMismatch, user, mep)
	}
	return mep, nil
}
