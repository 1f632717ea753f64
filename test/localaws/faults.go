package localaws

import (
	"context"
	"time"
)

// FaultKind is what an injected fault does to a call.
type FaultKind int

// Fault kinds.
const (
	// Throttle answers ThrottlingException (HTTP 400; STS: Throttling), which
	// the SDK retries with backoff.
	Throttle FaultKind = iota + 1
	// InternalError answers InternalServiceError (HTTP 500; STS:
	// InternalFailure) without applying the call.
	InternalError
	// AppliedThenFailed applies the call, then answers InternalServiceError
	// (HTTP 500) instead of its result: the caller cannot know the write
	// happened, and the SDK retries it.
	AppliedThenFailed
	// Latency delays the call by Fault.Latency, then serves it normally.
	Latency
	// AccessDenied answers AccessDeniedException (HTTP 400; STS: AccessDenied,
	// 403), as IAM does for a call no policy allows. The SDK does not retry it.
	AccessDenied
)

// String returns the kind's name.
func (k FaultKind) String() string {
	switch k {
	case Throttle:
		return "Throttle"
	case InternalError:
		return "InternalError"
	case AppliedThenFailed:
		return "AppliedThenFailed"
	case Latency:
		return "Latency"
	case AccessDenied:
		return "AccessDenied"
	}
	return "FaultKind(?)"
}

// Fault describes calls to disturb. A call matches when its operation equals
// Operation ("" = any) and its caller's account equals Account ("" = any).
// The first After matching calls pass untouched; after that each matching call
// fires with Probability (0 means always), at most Count times (0 means no
// limit). Probabilities draw from a generator seeded with Options.Seed, so a
// run is reproducible when calls arrive in the same order.
type Fault struct {
	Operation   string // e.g. "PutSecretValue", "AssumeRole"
	Account     string
	Kind        FaultKind
	Probability float64
	Count       int
	After       int
	Latency     time.Duration // for Latency
}

type faultState struct {
	Fault
	seen  int
	fired int
}

// InjectFault adds a fault; faults are checked in the order they were added
// and the first one that fires applies.
func (s *Server) InjectFault(f Fault) {
	if f.Kind < Throttle || f.Kind > AccessDenied {
		panic("localaws: InjectFault: unknown FaultKind")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// pickFault returns the fault that fires for this call, if any. s.mu held.
func (s *Server) pickFault(op, account string) *faultState {
	for _, f := range s.faults {
		if (f.Operation != "" && f.Operation != op) || (f.Account != "" && f.Account != account) {
			continue
		}
		f.seen++
		if f.seen <= f.After {
			continue
		}
		if f.Count > 0 && f.fired >= f.Count {
			continue
		}
		if f.Probability > 0 && s.rng.Float64() >= f.Probability {
			continue
		}
		f.fired++
		return f
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
