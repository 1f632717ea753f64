// Package fakes holds httptest servers that implement the documented key
// endpoints of SendGrid, Twilio and Okta (paths, methods, authentication,
// status codes and error bodies), keep the keys they mint, and inject faults
// (429 with Retry-After, 500, "applied then failed") deterministically, for the
// saas package's tests.
//
// Every secret a fake mints or is seeded with starts with Canary, so a test can
// scan logs and errors for that marker. What it must not do: talk to the real
// providers, or be imported by non-test code.
package fakes
