// Package hostile is the hostile-tenant suite (issue 11): the built central
// function under the Lambda RIE, in central mode with two member accounts,
// attacked by a member that writes its own secrets. Every test is one attack
// that must be refused with a clear StepError while nothing changes on any
// target and no other account's secret is read; the legitimate paths next to
// each attack must keep working. See README.md.
//
// The package holds tests only; the attacker's fake PostgreSQL and MySQL
// servers live in its test files.
package hostile
