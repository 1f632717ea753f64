// Package registry holds Table, the one list of every engine Rotary ships:
// for each, its engine key values, strategies, per-engine functions,
// identifying secret keys and the Build that registers its rotators. The
// central function registers every row (All); the README's engine table, the
// per-account template's Rotator values, the functions/ directories and every
// per-engine function's registrations are checked against it.
//
// All routes, by a secret's engine key and optional rotationStrategy key:
//
//	postgres, aurora-postgresql              single-user, alternating-users
//	mysql, aurora-mysql, mariadb             single-user, alternating-users, dual-password
//	sendgrid, twilio, okta, entra-app-secret api-key
//	ldap                                     single-user, admin-password
//	generic                                  single-user
//
// A secret whose engine is not listed fails with rotators.ErrNoRotator before
// anything is written (the engine routes before it stores a pending value).
//
// This package is wiring only: no rotation logic, no AWS calls, no secret
// values. Settings are read through rotators.Deps, so a bad one fails at
// start-up. Per-engine functions do not import it (it links every driver):
// their main.go calls their own package's Build.
package registry
