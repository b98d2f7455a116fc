package credential

import (
	"context"
	"errors"
	"math"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/atriumid/atrium/internal/credential/password"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/throttle"
)

// DefaultHashQueueWait bounds how long a password check waits for a free
// hashing slot before it is refused with fault.Unavailable.
const DefaultHashQueueWait = 2 * time.Second

// hashGate bounds the argon2id computations running at once, so a flood
// of logins queues instead of exhausting memory (each computation holds
// Params.Memory) or starving every other request of the CPU.
type hashGate struct {
	slots chan struct{}
	wait  time.Duration
}

// hashSlots is the default number of concurrent hashes: one per core, and
// no more than a quarter of the Go memory limit holds, when one is set.
func hashSlots(p password.Params) int {
	n := runtime.GOMAXPROCS(0)
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 && p.Memory > 0 {
		n = min(n, int(limit/4/(int64(p.Memory)*1024)))
	}
	return max(n, 1)
}

func newHashGate(slots int, wait time.Duration) *hashGate {
	return &hashGate{slots: make(chan struct{}, slots), wait: wait}
}

// errHashBusy refuses a hash when every slot stayed busy for the queue
// wait: the server is saturated, so the caller is asked to retry.
var errHashBusy = &fault.Error{Op: "credential.hash", Kind: fault.Unavailable, Msg: "too many password checks in progress; retry later",
	Err: &throttle.RetryError{After: time.Second}}

// do runs fn in a slot, waiting for one until the queue wait or ctx ends.
func (g *hashGate) do(ctx context.Context, fn func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			return errHashBusy
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return errHashBusy
			}
			return fault.Wrap("credential.hash", fault.Canceled, ctx.Err())
		}
	}
	defer func() { <-g.slots }()
	fn()
	return nil
}

// hash hashes a password with the configured parameters in a slot.
func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	var h string
	var err error
	if gerr := s.gate.do(ctx, func() { h, err = password.Hash(pw, s.c.Hashing) }); gerr != nil {
		return "", gerr
	}
	return h, err
}

// verify checks a password against a stored hash in a slot. A malformed
// stored hash is a mismatch.
func (s *Service) verify(ctx context.Context, pw, stored string) (bool, error) {
	var ok bool
	var err error
	if gerr := s.gate.do(ctx, func() { ok, err = password.Verify(pw, stored) }); gerr != nil {
		return false, gerr
	}
	if err != nil && !fault.Is(err, fault.Invalid) {
		return false, err
	}
	return ok, nil
}
