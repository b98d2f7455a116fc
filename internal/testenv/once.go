package testenv

import (
	"sync"
	"sync/atomic"
	"testing"
)

// ExactlyOnce runs consume in n goroutines released at the same instant
// and fails t unless exactly one of them returns nil: the check that a
// one-time secret (a TOTP step, a recovery code, a challenge, a session
// being rotated) is consumed atomically by the database, not by
// check-then-write. It returns the number of winners.
func ExactlyOnce(t testing.TB, n int, consume func() error) int {
	t.Helper()
	var wins atomic.Int32
	var start, done sync.WaitGroup
	start.Add(1)
	for range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			if consume() == nil {
				wins.Add(1)
			}
		}()
	}
	start.Done()
	done.Wait()
	if w := int(wins.Load()); w != 1 {
		t.Errorf("%d of %d concurrent consumers won, want exactly 1", w, n)
		return w
	}
	return 1
}
