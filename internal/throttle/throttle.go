// Package throttle limits failed authentication attempts (NIST SP 800-63B
// §5.2.2, ASVS 6.1.1 and 6.3.1): per account and client address, per
// account and per client address, with progressive, capped delays, so
// that guessing is slow while an attacker cannot keep the holder of an
// account out.
//
// Counters live in the database through Store, so every replica shares
// them and a failure is counted atomically under any concurrency. Every
// credential check of every pathway goes through one Limiter: Check before
// verifying, then Fail or Succeed.
package throttle

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// Policy says how failures of one key are throttled. After Free
// consecutive failures, each further failure blocks the key for Base,
// doubling with every failure up to Max; from Limit failures on the key is
// always blocked for Max. Attempts refused while blocked are not counted,
// so they do not extend the block.
type Policy struct {
	Free  int
	Base  time.Duration
	Max   time.Duration
	Limit int
	// Window forgets failures older than it: a key that has not failed
	// for Window starts again from zero.
	Window time.Duration
}

// Policies are the policies of the three keys an attempt counts against.
// The pair of account and client address is throttled hard, so one
// source guesses slowly; the account alone more gently, with a short cap,
// so that a distributed guesser is slowed too while an attacker can never
// keep the real holder out for long; the client address alone loosely,
// since one address may front many people.
type Policies struct {
	Pair    Policy
	Account Policy
	Client  Policy
}

// DefaultPolicies: per account and client, 5 free failures, then 1 s
// doubling to 15 min, and 15 min at every failure from the 100th (NIST SP
// 800-63B §5.2.2: at most 100 consecutive failures); per account, 20
// free, then 1 s doubling to 1 min; per client address, 50 free, then 1 s
// doubling to 15 min.
var DefaultPolicies = Policies{
	Pair:    Policy{Free: 5, Base: time.Second, Max: 15 * time.Minute, Limit: 100, Window: 24 * time.Hour},
	Account: Policy{Free: 20, Base: time.Second, Max: time.Minute, Limit: 100, Window: 24 * time.Hour},
	Client:  Policy{Free: 50, Base: time.Second, Max: 15 * time.Minute, Limit: 1000, Window: time.Hour},
}

// Delay returns how long a key is blocked after its failures-th
// consecutive failure.
func (p Policy) Delay(failures int64) time.Duration {
	switch {
	case failures >= int64(p.Limit):
		return p.Max
	case failures <= int64(p.Free):
		return 0
	}
	d := p.Base
	for i := int64(p.Free) + 1; i < failures && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Validate checks a policy: at most 100 failures before the lock.
func (p Policy) Validate() error {
	if p.Free < 0 || p.Base <= 0 || p.Max < p.Base || p.Limit < 1 || p.Limit > 100_000 || p.Free >= p.Limit || p.Window <= 0 {
		return fault.E("throttle.Policy", fault.Invalid, "throttle policy out of range")
	}
	return nil
}

// State is the stored throttle state of one key.
type State struct {
	Key          string
	Failures     int64
	BlockedUntil time.Time // zero when not blocked
}

// Store keeps throttle counters. Methods return fault.Unavailable when the
// database fails.
type Store interface {
	// ThrottleStates returns the states of the keys that have any.
	ThrottleStates(ctx context.Context, keys []string) ([]State, error)
	// RecordFailure atomically adds one failure to key (starting from zero
	// when the last failure is before forgetBefore) and blocks it until
	// now plus delay(failures), never shortening a block. It returns the
	// new state.
	RecordFailure(ctx context.Context, key string, now, forgetBefore time.Time, delay func(failures int64) time.Duration) (State, error)
	// ResetThrottle forgets the failures of keys.
	ResetThrottle(ctx context.Context, keys []string) error
}

// Subject names who an attempt is for: the account (or, for an unknown
// identifier, the identifier, so that both are throttled alike) and the
// client address it came from.
type Subject struct {
	Account string
	Client  string
}

// keys returns the keys of s: "p:" the pair, "a:" the account, "c:" the
// client. The account holds no "|"; IDs and identifiers are stored
// normalized, and the client is an address.
func (s Subject) keys() []string {
	var ks []string
	if s.Account != "" {
		ks = append(ks, "p:"+s.Account+"|"+s.Client, "a:"+s.Account)
	}
	if s.Client != "" {
		ks = append(ks, "c:"+s.Client)
	}
	return ks
}

// Limiter applies the account and client policies over a Store. It is
// safe for concurrent use.
type Limiter struct {
	store    Store
	policies Policies
	now      func() time.Time
}

// New returns a Limiter. now defaults to time.Now.
func New(store Store, p Policies, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{store: store, policies: p, now: now}
}

func (l *Limiter) policy(key string) Policy {
	switch key[0] {
	case 'p':
		return l.policies.Pair
	case 'a':
		return l.policies.Account
	}
	return l.policies.Client
}

// Check returns a fault.ResourceExhausted error carrying the time to wait
// (see RetryAfter) when the account or the client is blocked, and nil when
// an attempt may go ahead.
func (l *Limiter) Check(ctx context.Context, s Subject) error {
	states, err := l.store.ThrottleStates(ctx, s.keys())
	if err != nil {
		return err
	}
	now := l.now()
	var wait time.Duration
	for _, st := range states {
		wait = max(wait, st.BlockedUntil.Sub(now))
	}
	if wait > 0 {
		return Blocked(wait)
	}
	return nil
}

// Fail counts a failed attempt for the account and the client.
func (l *Limiter) Fail(ctx context.Context, s Subject) error {
	now := l.now()
	for _, k := range s.keys() {
		p := l.policy(k)
		if _, err := l.store.RecordFailure(ctx, k, now, now.Add(-p.Window), p.Delay); err != nil {
			return err
		}
	}
	return nil
}

// Succeed forgets the failures of the account and of the pair after a
// successful attempt. The client's count is left to its window: otherwise
// an attacker could clear the count of an address by logging into an
// account of their own between guesses.
func (l *Limiter) Succeed(ctx context.Context, s Subject) error {
	if s.Account == "" {
		return nil
	}
	return l.store.ResetThrottle(ctx, Subject{Account: s.Account, Client: s.Client}.keys()[:2])
}

// RetryError is the cause of a throttling error: how long to wait.
type RetryError struct{ After time.Duration }

func (e *RetryError) Error() string { return fmt.Sprintf("blocked for %s", e.After) }

// RetryAfter returns the wait in whole seconds, rounded up, as the
// Retry-After header carries it.
func (e *RetryError) RetryAfter() string {
	return strconv.FormatInt(int64((e.After+time.Second-1)/time.Second), 10)
}

// Blocked returns the error of an attempt refused for wait.
func Blocked(wait time.Duration) error {
	return &fault.Error{Op: "throttle.Check", Kind: fault.ResourceExhausted, Msg: "too many failed attempts; retry later", Err: &RetryError{After: wait}}
}
