package ethrpc

import (
	"sync"
	"time"
)

// breaker is a circuit breaker for one endpoint. Closed, it lets every call
// through and counts consecutive failures; at threshold it opens and refuses
// calls for coolDown; then it half-opens and lets exactly one trial call
// through, which closes it on success and opens it again on failure. A
// failing endpoint so costs one timeout per cool-down, not one per sign-in.
type breaker struct {
	threshold int
	coolDown  time.Duration
	now       func() time.Time

	mu        sync.Mutex
	failures  int       // consecutive failures; guarded by mu
	openUntil time.Time // zero when closed; guarded by mu
	probing   bool      // a half-open trial call is in flight; guarded by mu
}

func newBreaker(threshold int, coolDown time.Duration, now func() time.Time) *breaker {
	return &breaker{threshold: threshold, coolDown: coolDown, now: now}
}

// allow reports whether a call may go out now. Every allowed call must be
// followed by done or release.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return true
	}
	if b.probing || b.now().Before(b.openUntil) {
		return false
	}
	b.probing = true
	return true
}

// done records the outcome of an allowed call.
func (b *breaker) done(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if ok {
		b.failures = 0
		b.openUntil = time.Time{}
		return
	}
	b.failures++
	if b.failures >= b.threshold || !b.openUntil.IsZero() {
		b.openUntil = b.now().Add(b.coolDown)
	}
}

// release ends an allowed call that said nothing about the endpoint, such as
// one the caller canceled.
func (b *breaker) release() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}
