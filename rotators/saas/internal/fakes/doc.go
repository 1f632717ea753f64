// Package fakes holds httptest servers that implement the documented key
// endpoints of SendGrid, Twilio, Okta and Microsoft Entra ID (paths, methods,
// authentication, status codes and error bodies), keep the keys they mint, and
// inject faults (429 with Retry-After, 500, "applied then failed")
// deterministically, for the saas package's tests.
//
// A fake answers only what the provider's contract document in
// ../../testdata/openapi allows: every saas test checks each exchange against
// those documents, so a fake that answers otherwise fails it. Error bodies
// take the shape the provider uses at that place, faults included (the
// authorization servers' token and introspection endpoints answer OAuth 2.0
// errors, not their APIs' error bodies).
//
// Every secret a fake mints or is seeded with starts with Canary, so a test can
// scan logs and errors for that marker. What it must not do: talk to the real
// providers, or be imported by non-test code.
package fakes
