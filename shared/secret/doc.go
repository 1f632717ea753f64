// Package secret is the model of a rotated secret's JSON value: the keys AWS's
// rotation templates use (engine, host, port, username, password, dbname, ssl,
// masterarn, dbClusterIdentifier, dbInstanceIdentifier) plus any other keys,
// which are kept unchanged on a round trip.
//
// A Value never prints its credentials: LogValue and String omit every value that
// could be secret, and validation errors name the key but never hold its value.
// json.Marshal still writes the real value, because that is what gets stored.
//
// This package must not talk to AWS or to a target system, and must not log.
package secret
