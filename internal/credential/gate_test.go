package credential

import (
	"context"
	"errors"
	"testing"

	"github.com/atriumid/atrium/internal/credential/password"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/atriumid/atrium/internal/throttle"
)

// A saturated gate refuses with Unavailable and a Retry-After instead of
// queueing without bound.
func TestHashGateSaturated(t *testing.T) {
	g := newHashGate(1, 0)
	held := make(chan struct{})
	release := make(chan struct{})
	go g.do(context.Background(), func() { close(held); <-release })
	<-held
	err := g.do(context.Background(), func() { t.Error("ran while the only slot was held") })
	var re *throttle.RetryError
	if !fault.Is(err, fault.Unavailable) || !errors.As(err, &re) {
		t.Errorf("do(saturated) = %v, want Unavailable with a RetryError", err)
	}
	close(release)
	ran := false
	for !ran {
		if err := g.do(context.Background(), func() { ran = true }); err != nil && !fault.Is(err, fault.Unavailable) {
			t.Fatal(err)
		}
	}
	if got := hashSlots(password.OWASP); got < 1 {
		t.Errorf("hashSlots = %d, want ≥ 1", got)
	}
}
