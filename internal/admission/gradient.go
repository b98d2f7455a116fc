package admission

import (
	"math"
	"time"
)

// The limit adapts as in the Gradient2 limit of Netflix's
// concurrency-limits: per window of samples, the gradient between the
// long-run latency and the window's latency scales the limit down when
// requests slow (they are queueing somewhere), and a small allowance of
// √limit lets it probe upwards while latency holds:
//
//	gradient = clamp(tolerance × long / short, 0.5, 1)
//	target   = limit × gradient + √limit
//	limit    = limit × (1 − smoothing) + target × smoothing
//
// Two changes keep it honest under a sustained overload. The long-run
// latency learns at full speed only from windows in which nothing queued or
// was shed; under pressure it moves ten times slower, over tens of seconds
// rather than seconds, so that a surge cannot quickly teach it that slow is
// normal, yet a lasting slow-down that is not of our making (a busy
// database host, a noisy neighbour) is learnt, and the limit does not stay
// pinned at its minimum. And in a
// window that used less than half of the limit, when latency says nothing
// about what more concurrency would cost, the limit does not grow but
// settles towards four times what was used: a sudden surge then meets a limit
// fitted to recent use, not one left high by a calm spell, and the limit
// climbs from there as long as latency holds.
const (
	windowMin      = 50 * time.Millisecond // a window lasts at least this long
	windowSamples  = 16                    // and holds at least this many samples
	tolerance      = 1.5                   // latency over long-run this much counts as queueing
	smoothing      = 0.2
	longWeight     = 1.0 / 50             // EMA weight of a calm window in the long-run latency
	pressureWeight = 1.0 / 500            // and of a window under pressure
	minWaitFloor   = 5 * time.Millisecond // the shortest wait in a standing queue: CoDel's target
)

// gradient is the adaptive limit. It is not safe for concurrent use: the
// Limiter guards it.
type gradient struct {
	limit, min, max float64

	long float64 // long-run mean latency in nanoseconds; 0 until the first window

	winStart    time.Time
	winSum      time.Duration
	winN        int
	winInflight int  // most requests in flight during the window
	winPressure bool // a request queued or was shed during the window
}

func newGradient(cfg Config, now time.Time) gradient {
	return gradient{limit: float64(cfg.InitialLimit), min: float64(cfg.MinLimit), max: float64(cfg.MaxLimit), winStart: now}
}

// limitInt is the current limit, rounded down.
func (g *gradient) limitInt() int { return int(g.limit) }

// inflight records the number of requests in flight after an admission.
func (g *gradient) inflight(n int) { g.winInflight = max(g.winInflight, n) }

// pressure records that a request queued or was shed.
func (g *gradient) pressure() { g.winPressure = true }

// typical is the long-run latency: how long a request usually runs. Zero
// before the first window closes.
func (g *gradient) typical() time.Duration { return time.Duration(g.long) }

// sample feeds one finished request's latency, ending the window when it
// is long enough.
func (g *gradient) sample(now time.Time, rtt time.Duration) {
	g.winSum += max(rtt, 0)
	g.winN++
	if g.winN < windowSamples || now.Sub(g.winStart) < windowMin {
		return
	}
	short := max(float64(g.winSum)/float64(g.winN), 1)
	g.update(short)
	g.winStart, g.winSum, g.winN, g.winInflight, g.winPressure = now, 0, 0, 0, false
}

// update adapts the limit to a window whose mean latency was short.
func (g *gradient) update(short float64) {
	switch {
	case g.long == 0:
		g.long = short
	case g.winPressure:
		g.long += (short - g.long) * pressureWeight
	default:
		g.long += (short - g.long) * longWeight
	}
	if g.long > 2*short {
		// Latency fell well below the long-run level: the load that set it
		// has passed. Let the level follow quickly.
		g.long *= 0.95
	}
	grad := min(max(tolerance*g.long/short, 0.5), 1)
	target := g.limit*grad + math.Sqrt(g.limit)
	if float64(g.winInflight) < g.limit/2 {
		target = min(target, max(4*float64(g.winInflight), g.min))
	}
	g.limit = min(max(g.limit*(1-smoothing)+target*smoothing, g.min), g.max)
}
