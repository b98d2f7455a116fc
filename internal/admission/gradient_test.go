package admission

import (
	"testing"
	"time"
)

// feed runs n windows through g, each of windowSamples samples of latency
// rtt spread over windowMin, with inflight requests at the busiest moment
// and pressure marking windows in which requests queued.
func feed(g *gradient, now *time.Time, windows int, rtt time.Duration, inflight int, pressure bool) {
	for range windows {
		for i := range windowSamples {
			g.inflight(inflight)
			if pressure {
				g.pressure()
			}
			if i == windowSamples-1 {
				*now = now.Add(windowMin)
			}
			g.sample(*now, rtt)
		}
	}
}

func newTestGradient(initial int) (*gradient, *time.Time) {
	now := time.Unix(1_700_000_000, 0)
	g := newGradient(Config{InitialLimit: initial, MinLimit: 4, MaxLimit: 256}.withDefaults(), now)
	return &g, &now
}

func TestGradientGrowsWhileLatencyHolds(t *testing.T) {
	g, now := newTestGradient(16)
	feed(g, now, 50, time.Millisecond, 16, false)
	if g.limitInt() <= 16 {
		t.Errorf("limit = %d after steady latency with the limit in use, want above 16", g.limitInt())
	}
}

// TestGradientSettlesToUse: a limit mostly unused settles towards twice
// what is used, so that a surge meets a limit fitted to recent use.
func TestGradientSettlesToUse(t *testing.T) {
	g, now := newTestGradient(64)
	feed(g, now, 50, time.Millisecond, 5, false)
	if g.limitInt() != 20 {
		t.Errorf("limit = %d after windows using 5 of 64, want 20", g.limitInt())
	}
}

// TestGradientShrinksWhenLatencyClimbs: latency four times the long-run
// level means requests queue; the limit falls towards the minimum.
func TestGradientShrinksWhenLatencyClimbs(t *testing.T) {
	g, now := newTestGradient(64)
	feed(g, now, 20, time.Millisecond, 64, false)
	before := g.limitInt()
	feed(g, now, 40, 4*time.Millisecond, 64, true)
	if after := g.limitInt(); after >= before/4 {
		t.Errorf("limit = %d after latency went from 1 ms to 4 ms, want well below %d", after, before)
	}
	if g.limitInt() < 4 {
		t.Errorf("limit = %d, below the minimum 4", g.limitInt())
	}
}

// TestGradientBaselineResistsSustainedOverload: windows under pressure
// move the long-run latency slowly, so a surge (here 100 windows, 2.5 s)
// keeps the limit low instead of learning that slow is normal, while a
// slow-down that lasts (5,000 windows) is learnt and frees the limit.
func TestGradientBaselineResistsSustainedOverload(t *testing.T) {
	g, now := newTestGradient(32)
	feed(g, now, 20, time.Millisecond, 32, false)
	feed(g, now, 100, 5*time.Millisecond, 64, true)
	if long := g.typical(); long > 2*time.Millisecond {
		t.Errorf("long-run latency = %v after a 2.5 s surge from 1 ms, want under 2 ms", long)
	}
	if g.limitInt() > 8 {
		t.Errorf("limit = %d during a surge, want near the minimum", g.limitInt())
	}
	feed(g, now, 5000, 5*time.Millisecond, 64, true)
	if long := g.typical(); long < 4*time.Millisecond {
		t.Errorf("long-run latency = %v after a lasting slow-down to 5 ms, want it learnt", long)
	}
	if g.limitInt() < 16 {
		t.Errorf("limit = %d after the slow-down was learnt, want it freed from the minimum", g.limitInt())
	}
}

// TestGradientRecoversWhenLoadDrops: once latency returns to its level,
// the limit climbs back.
func TestGradientRecoversWhenLoadDrops(t *testing.T) {
	g, now := newTestGradient(32)
	feed(g, now, 20, time.Millisecond, 32, false)
	feed(g, now, 40, 5*time.Millisecond, 64, true)
	low := g.limitInt()
	feed(g, now, 100, time.Millisecond, 64, false)
	if g.limitInt() <= 2*low {
		t.Errorf("limit = %d after latency recovered from an overload that left it at %d, want it to have climbed", g.limitInt(), low)
	}
}

func TestGradientWindowNeedsTimeAndSamples(t *testing.T) {
	g, now := newTestGradient(16)
	for range 10 * windowSamples {
		g.sample(*now, time.Millisecond) // many samples, no time passing
	}
	if g.typical() != 0 {
		t.Errorf("a window closed without windowMin passing: long-run latency %v", g.typical())
	}
	*now = now.Add(windowMin)
	g.sample(*now, time.Millisecond)
	if g.typical() != time.Millisecond {
		t.Errorf("long-run latency = %v after the first window of 1 ms, want 1ms", g.typical())
	}
}
