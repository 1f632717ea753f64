// Package saas rotates SaaS API keys with one rotation period of overlap. It
// holds the Adapter interface (the few verbs every provider needs: mint a key
// named after the rotation, verify a key with a cheap authenticated call,
// revoke a key, find keys by name), one Rotator that runs the four rotation
// steps on top of any Adapter, an HTTP client with bounded retries, and the
// adapters for SendGrid API keys, Twilio API keys and Okta OAuth client
// secrets.
//
// The rotated secret holds the key in use; the admin credential that may mint
// and revoke keys lives in a separate secret named by the masterarn key, read
// by the engine and passed in through the Master loader.
//
// What this package must not do: call AWS (the engine reads and writes every
// secret version), log, keep a secret value between calls, or put an API key,
// an admin credential or a provider response that echoes one into an error:
// provider error bodies are scrubbed of every known secret and cut short
// before they are wrapped into an error.
package saas
