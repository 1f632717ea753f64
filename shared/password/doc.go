// Package password generates passwords for rotated credentials with the same
// options as Secrets Manager's GetRandomPassword, read from the environment
// variables AWS's rotation templates use.
//
// Generation uses crypto/rand with unbiased sampling. A Policy that cannot be
// satisfied is reported when it is read (at function start-up), never in the
// middle of a rotation. This package must not log or keep a generated password.
package password
