// Package rotators defines the contract between the rotation engine
// (shared/rotation) and the code that changes one credential on one target
// system: a database, a SaaS API.
//
// A Rotator receives every secret version it needs from the engine, already
// read from Secrets Manager, and returns the new pending value. Rotators must
// not import the AWS SDK, must not log secret values, and must not put secret
// values in errors (the engine also redacts them, as a second net).
//
// Rotator holds what every rotator does (Create, Set, Test); Finisher,
// Discarder and Minter are optional interfaces carrying their own methods,
// which the engine finds by type assertion.
//
// Each target lives in its own package (rotators/postgres, rotators/mysql,
// rotators/saas, …), built at start-up with its dependencies (Deps) by the
// package's Build. The Registry routes a secret to its Rotator by the
// secret's engine key and rotation strategy.
//
// The settings every TLS rotator reads from its environment (CA bundle,
// connect timeout) are parsed here, in envconfig.go, and the system roots
// are loaded only on a rotator's first TLS connection (LazyRoots).
package rotators
