package testenv

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed bool
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(string, ...any) {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
}

// TestExactlyOnceCatchesCheckThenWrite shows the harness can fail: a
// one-time use written as check-then-write lets several consumers win,
// and ExactlyOnce reports it; an atomic compare-and-swap passes.
func TestExactlyOnceCatchesCheckThenWrite(t *testing.T) {
	var used atomic.Bool
	naive := func() error {
		if used.Load() {
			return errors.New("used")
		}
		time.Sleep(time.Millisecond) // the gap between the read and the write
		used.Store(true)
		return nil
	}
	r := &recorder{TB: t}
	if wins := ExactlyOnce(r, 32, naive); wins == 1 || !r.failed {
		t.Errorf("ExactlyOnce(check-then-write) = %d wins, failed %v; want a failure", wins, r.failed)
	}
	var cas atomic.Bool
	atomicUse := func() error {
		if !cas.CompareAndSwap(false, true) {
			return errors.New("used")
		}
		return nil
	}
	if wins := ExactlyOnce(t, 32, atomicUse); wins != 1 {
		t.Errorf("ExactlyOnce(compare-and-swap) = %d wins, want 1", wins)
	}
}
