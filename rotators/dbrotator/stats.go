package dbrotator

import "sync/atomic"

// Stats counts what a rotator did on its servers, for tests, benchmarks and
// metrics: every connection attempt is a login; a failed one did not end in
// an authenticated session (wrong password, TLS or network failure).
type Stats struct {
	Logins       int64 // connection attempts
	FailedLogins int64 // attempts that did not end in a session
	Retries      int64 // statements or transactions run again after a transient server error (deadlock, lock wait)
}

// Counters are a rotator's Stats, safe for concurrent use. The zero value
// counts from zero.
type Counters struct {
	logins, failed, retries atomic.Int64
}

// Login counts one connection attempt that ended with err (nil: a session),
// and returns err.
func (c *Counters) Login(err error) error {
	c.logins.Add(1)
	if err != nil {
		c.failed.Add(1)
	}
	return err
}

// Retry counts one retry of a statement or transaction.
func (c *Counters) Retry() { c.retries.Add(1) }

// Stats returns the counts so far.
func (c *Counters) Stats() Stats {
	return Stats{Logins: c.logins.Load(), FailedLogins: c.failed.Load(), Retries: c.retries.Load()}
}
