// Package secret is the model of a rotated secret's JSON value: the keys AWS's
// rotation templates use (engine, host, port, username, password, dbname, ssl,
// masterarn, dbClusterIdentifier, dbInstanceIdentifier) plus any other keys,
// which are kept unchanged on a round trip.
//
// A Value never prints its credentials: LogValue and every fmt verb (%v, %+v,
// %#v, %s, …) omit every value that could be secret, and validation errors name
// the key but never hold its value. json.Marshal and String still write the real
// value, because that is what gets stored: never log String's result.
//
// This package must not talk to AWS or to a target system, and must not log.
package secret
