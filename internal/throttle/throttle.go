// Package throttle limits failed authentication attempts (NIST SP 800-63B
// §5.2.2, ASVS 6.1.1 and 6.3.1): per account and client address, per
// account and per client address, with progressive, capped delays, so
// that guessing is slow while an attacker cannot keep the holder of an
// account out.
//
// Counters live in the database through Store, so every replica shares
// them and a failure is counted atomically under any concurrency. Every
// credential check goes through one Limiter: Begin reserves the attempt
// before the credential is verified, then the Attempt's Fail or Succeed
// settles it.
//
// # Reservations
//
// A check of a password takes tens of milliseconds; were the count read
// before and written after it, a burst of parallel guesses fired as a
// block ends would all be verified. So Begin counts the attempt as pending
// in one conditional write, and admits it only while the key is not
// blocked and, should every attempt in flight fail, the key would not have
// passed its free failures by more than one: a key with f recorded
// failures and p attempts in flight admits another when p = 0 or
// f + p ≤ Free. An attempt that is refused only because others are in
// flight waits for them (at most QueueWait) rather than failing, so
// parallel correct logins all succeed. A reservation lapses after Lease,
// so a replica that dies mid-check does not hold the key.
//
// # No lock-out
//
// An attacker cannot keep the holder of an account out indefinitely:
// attempts refused while blocked are not counted and do not extend a
// block; the pair of account and client address carries the long delays,
// so guessing from an address never blocks the holder's own address; and
// the account-wide key, which counts guesses from every address, blocks
// for at most Policies.Account.Max (one minute by default) after the last
// counted failure, admitting one attempt when it ends.
package throttle

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
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

// SendPolicies limit what is sent and created on request, every request
// counting (Fail) as it is made: codes and notices per account and client,
// 3 free then 1 min doubling to 1 h; per account from anywhere, 5 free
// then 1 min doubling to 1 h; per client address (also registrations),
// 20 free an hour, then 1 min doubling to 1 h.
var SendPolicies = Policies{
	Pair:    Policy{Free: 3, Base: time.Minute, Max: time.Hour, Limit: 100, Window: 24 * time.Hour},
	Account: Policy{Free: 5, Base: time.Minute, Max: time.Hour, Limit: 100, Window: 24 * time.Hour},
	Client:  Policy{Free: 20, Base: time.Minute, Max: time.Hour, Limit: 1000, Window: time.Hour},
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
	// Pending counts the attempts in flight, reserved until LeaseUntil.
	Pending    int64
	LeaseUntil time.Time
}

// Rule is what Store.Reserve needs to know of one key's policy.
type Rule struct {
	Key string
	// Free is the policy's number of free failures.
	Free int
	// ForgetBefore: failures last counted before it are forgotten.
	ForgetBefore time.Time
}

// Reservation timing.
const (
	// Lease is how long a reservation holds a key when its attempt is
	// never settled.
	Lease = 30 * time.Second
	// QueueWait bounds how long Begin waits for attempts in flight.
	QueueWait = 10 * time.Second
)

// Store keeps throttle counters. Methods return fault.Unavailable when the
// database fails.
type Store interface {
	// ThrottleStates returns the states of the keys that have any.
	ThrottleStates(ctx context.Context, keys []string) ([]State, error)
	// Reserve, in one transaction, counts one pending attempt on every
	// rule's key that is not blocked at now and admits it (pending is 0,
	// its lease has lapsed, or failures + pending ≤ Free), leasing the
	// reservations until leaseUntil. When any key refuses, nothing is
	// reserved and Reserve returns false with the states of the keys.
	Reserve(ctx context.Context, rules []Rule, now, leaseUntil time.Time) (admitted bool, states []State, err error)
	// RecordFailure atomically adds one failure to key (starting from zero
	// when the last failure is before forgetBefore) and blocks it until
	// now plus delay(failures), never shortening a block; when reserved,
	// it also ends one reservation of the key. It returns the new state.
	RecordFailure(ctx context.Context, key string, now, forgetBefore time.Time, delay func(failures int64) time.Duration, reserved bool) (State, error)
	// Settle ends one reservation of every key of release, then forgets
	// the failures of every key of reset. Keys left without failures or
	// reservations are deleted.
	Settle(ctx context.Context, release, reset []string) error
	// PruneThrottle deletes keys whose last failure is before
	// forgetBefore and that are neither blocked nor reserved at now.
	PruneThrottle(ctx context.Context, forgetBefore, now time.Time) error
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
	pruned   atomic.Int64 // Unix time of the last prune
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

// Fail counts a failed attempt for the account and the client. It is for
// checks that did not Begin; an Attempt settles with its own Fail.
func (l *Limiter) Fail(ctx context.Context, s Subject) error {
	return l.fail(ctx, s.keys(), false)
}

func (l *Limiter) fail(ctx context.Context, keys []string, reserved bool) error {
	now := l.now()
	for _, k := range keys {
		p := l.policy(k)
		if _, err := l.store.RecordFailure(ctx, k, now, now.Add(-p.Window), p.Delay, reserved); err != nil {
			return err
		}
	}
	l.prune(ctx, now)
	return nil
}

// prune deletes forgotten keys, at most once a minute per Limiter.
func (l *Limiter) prune(ctx context.Context, now time.Time) {
	last := l.pruned.Load()
	if now.Unix()-last < 60 || !l.pruned.CompareAndSwap(last, now.Unix()) {
		return
	}
	window := max(l.policies.Pair.Window, l.policies.Account.Window, l.policies.Client.Window)
	// Pruning is housekeeping; a failure leaves rows for the next time.
	_ = l.store.PruneThrottle(ctx, now.Add(-window), now)
}

// Succeed forgets the failures of the account and of the pair after a
// successful attempt. It is for checks that did not Begin; an Attempt
// settles with its own Succeed.
func (l *Limiter) Succeed(ctx context.Context, s Subject) error {
	if s.Account == "" {
		return nil
	}
	return l.store.Settle(ctx, nil, s.resetKeys())
}

// resetKeys are the keys a success forgets: the pair and the account.
// The client's count is left to its window: otherwise an attacker could
// clear the count of an address by logging into an account of their own
// between guesses.
func (s Subject) resetKeys() []string {
	if s.Account == "" {
		return nil
	}
	return s.keys()[:2]
}

// Begin reserves an attempt for s before its credential is verified (see
// Reservations in the package documentation). It returns a
// fault.ResourceExhausted error carrying the time to wait (see RetryAfter)
// when the account or the client is blocked, or when the attempts in
// flight do not settle within QueueWait. The caller settles the Attempt
// with Fail or Succeed, and defers Release for the paths that do neither.
func (l *Limiter) Begin(ctx context.Context, s Subject) (*Attempt, error) {
	keys := s.keys()
	slices.Sort(keys) // one lock order on every replica
	give := time.Now().Add(QueueWait)
	for {
		now := l.now()
		rules := make([]Rule, len(keys))
		for i, k := range keys {
			p := l.policy(k)
			rules[i] = Rule{Key: k, Free: p.Free, ForgetBefore: now.Add(-p.Window)}
		}
		ok, states, err := l.store.Reserve(ctx, rules, now, now.Add(Lease))
		if err != nil {
			return nil, err
		}
		if ok {
			return &Attempt{l: l, s: s, keys: keys}, nil
		}
		var wait time.Duration
		for _, st := range states {
			wait = max(wait, st.BlockedUntil.Sub(now))
		}
		if wait > 0 {
			return nil, Blocked(wait)
		}
		if time.Now().After(give) {
			return nil, Blocked(time.Second)
		}
		// Others' attempts are being verified; their outcome decides
		// whether this one may go ahead.
		t := time.NewTimer(5*time.Millisecond + rand.N(10*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			k := fault.Canceled
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				k = fault.DeadlineExceeded
			}
			return nil, fault.Wrap("throttle.Begin", k, ctx.Err())
		case <-t.C:
		}
	}
}

// Attempt is a reserved credential check. Its methods are for one
// goroutine.
type Attempt struct {
	l       *Limiter
	s       Subject
	keys    []string
	settled bool
}

// Fail counts the attempt as a failure.
func (a *Attempt) Fail(ctx context.Context) error {
	if a.settled {
		return nil
	}
	a.settled = true
	return a.l.fail(context.WithoutCancel(ctx), a.keys, true)
}

// Succeed ends the reservation and forgets the failures of the account
// and of the pair.
func (a *Attempt) Succeed(ctx context.Context) error {
	if a.settled {
		return nil
	}
	a.settled = true
	return a.l.store.Settle(context.WithoutCancel(ctx), a.keys, a.s.resetKeys())
}

// Release ends the reservation of an attempt that was neither failed nor
// succeeded (its check could not be made); it counts nothing.
func (a *Attempt) Release(ctx context.Context) {
	if a.settled {
		return
	}
	a.settled = true
	// The lease ends the reservation should this fail.
	_ = a.l.store.Settle(context.WithoutCancel(ctx), a.keys, nil)
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
