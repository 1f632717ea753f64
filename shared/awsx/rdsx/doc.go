// Package rdsx resolves the endpoint of the database an RDS-managed master
// secret belongs to, through the RDS API in the secret's own account
// (rotators.EndpointResolver). It is its own package so that only the
// functions with a database rotator link the RDS client: a function passes
// Wire to start-up (lambdamain.Run) when it needs it.
//
// It reads no secret value.
package rdsx
