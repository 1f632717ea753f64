// Package secret is the model of a rotated secret's JSON value: the keys AWS's
// rotation templates use (engine, host, port, username, password, dbname, ssl,
// masterarn, dbClusterIdentifier, dbInstanceIdentifier) plus any other keys,
// which are kept unchanged on a round trip.
//
// A Value never prints its credentials: String, LogValue and every fmt verb
// (%v, %+v, %#v, %s, …) omit every value that could be secret, and validation
// errors name the key but never hold its value. The JSON to store comes from
// one explicitly named method, MarshalStored (StoredJSON as a string);
// json.Marshal writes the same real value, so a Value nested in stored data
// round-trips. Never log either.
//
// This package must not talk to AWS or to a target system, and must not log.
package secret
