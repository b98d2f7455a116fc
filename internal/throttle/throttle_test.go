package throttle

import (
	"testing"
	"time"
)

// delays grow from Base after the free failures, double, and are
// capped at Max; from Limit on the key is locked for Max.
func TestDelay(t *testing.T) {
	p := Policy{Free: 5, Base: time.Second, Max: time.Minute, Limit: 100, Window: time.Hour}
	for _, tc := range []struct {
		failures int64
		want     time.Duration
	}{
		{1, 0}, {5, 0}, {6, time.Second}, {7, 2 * time.Second}, {10, 16 * time.Second},
		{11, 32 * time.Second}, {12, time.Minute}, {99, time.Minute}, {100, time.Minute}, {1 << 40, time.Minute},
	} {
		if got := p.Delay(tc.failures); got != tc.want {
			t.Errorf("Delay(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
}

// the default policies lock at no more than 100 failures.
func TestPolicies(t *testing.T) {
	d := DefaultPolicies
	for name, p := range map[string]Policy{"pair": d.Pair, "account": d.Account, "client": d.Client} {
		if err := p.Validate(); err != nil {
			t.Errorf("%s policy: %v", name, err)
		}
	}
	for name, p := range map[string]Policy{"pair": d.Pair, "account": d.Account} {
		if p.Limit > 100 || p.Delay(int64(p.Limit)) != p.Max {
			t.Errorf("%s policy = %+v, want a lock at ≤ 100 failures", name, p)
		}
	}
	// the account-wide delay, which also holds the real holder back,
	// is short.
	if d.Account.Max > time.Minute {
		t.Errorf("account-wide cap = %v, want ≤ 1 min", d.Account.Max)
	}
	if (Policy{Free: 5, Base: time.Second, Max: time.Minute, Limit: 5, Window: time.Hour}).Validate() == nil {
		t.Errorf("Validate(Free ≥ Limit) = nil, want an error")
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{time.Second, "1"}, {1500 * time.Millisecond, "2"}, {time.Millisecond, "1"}, {15 * time.Minute, "900"}} {
		if got := (&RetryError{After: tc.d}).RetryAfter(); got != tc.want {
			t.Errorf("RetryAfter(%v) = %s, want %s", tc.d, got, tc.want)
		}
	}
}
