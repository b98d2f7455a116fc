package loadgen

import (
	"math"
	"time"
)

// Report is the outcome of one Run. Every planned request is exactly one of:
// successful (OK), failed (counted in Errors), abandoned in flight when the
// run's time bound passed (Aborted), or never sent (Unsent).
type Report struct {
	Requests    int     // planned
	Concurrency int     // requests in flight at most
	Rate        float64 // arrival rate of an open loop, zero for a closed loop
	OK          int     // requests answered with a success status
	// Errors counts failed requests by reason: the status code in decimal
	// ("503") for a response that is not a success, "timeout" for a request
	// that ran out of time, "transport" for a connection failure and
	// "body too large" for a response over the body limit.
	Errors map[string]int
	// Statuses counts every response received, successful or not, by
	// status code.
	Statuses map[int]int
	Aborted  int           // in flight when the run was stopped
	Unsent   int           // not sent because the run was stopped
	Elapsed  time.Duration // from the start of the run to the end of its last request
	// Latencies holds the latency of every successful request, in
	// ascending order. Failed requests are counted, not timed, so that fast
	// refusals do not flatter the distribution.
	Latencies []time.Duration
}

// Failed returns the number of requests that failed.
func (r *Report) Failed() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// Stopped reports whether the run ended before every request was sent and
// answered.
func (r *Report) Stopped() bool { return r.Aborted > 0 || r.Unsent > 0 }

// Throughput returns the successful requests per second over the run.
func (r *Report) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0–100) of the successful
// requests' latencies; see the function Percentile.
func (r *Report) Percentile(p float64) time.Duration { return Percentile(r.Latencies, p) }

// Max returns the largest latency of a successful request, zero if none.
func (r *Report) Max() time.Duration { return Percentile(r.Latencies, 100) }

// Percentile returns the p-th percentile of sorted, which must be in
// ascending order, by the nearest-rank method: the smallest value such that
// at least p percent of the values are less than or equal to it. It returns
// zero for an empty slice; p is clamped to [0, 100].
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// The small allowance keeps p values that are not exact in binary
	// (99.9) from rounding up to the next rank.
	rank := int(math.Ceil(min(max(p, 0), 100)*float64(n)/100 - 1e-9))
	return sorted[min(max(rank, 1), n)-1]
}
