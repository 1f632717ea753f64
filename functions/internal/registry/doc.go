// Package registry lists every rotator Rotary ships, so the central function
// (and any per-engine function that wants to) registers them in one call.
//
// All routes, by a secret's engine key and optional rotationStrategy key:
//
//	generic                                  single-user
//	postgres, aurora-postgresql              single-user, alternating-users
//	mysql, aurora-mysql, mariadb             single-user, alternating-users, dual-password
//	sendgrid, twilio, okta                   api-key
//
// A secret whose engine is not listed fails with rotators.ErrNoRotator before
// anything is written (the engine routes before it stores a pending value).
//
// This package is wiring only: no rotation logic, no AWS calls, no secret
// values. Settings are read through getenv, so a bad one fails at start-up.
package registry
