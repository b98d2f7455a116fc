package loadgen

import (
	"testing"
	"time"
)

func millis(n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{7 * ms}, 99, 7 * ms},
		{"p50 of 1..100", millis(100), 50, 50 * ms},
		{"p90 of 1..100", millis(100), 90, 90 * ms},
		{"p99 of 1..100", millis(100), 99, 99 * ms},
		{"max of 1..100", millis(100), 100, 100 * ms},
		{"p0 is the minimum", millis(100), 0, 1 * ms},
		{"p50 of 1..10", millis(10), 50, 5 * ms},
		{"p99 of 1..10 rounds up", millis(10), 99, 10 * ms},
		{"p91 of 1..10 rounds up", millis(10), 91, 10 * ms},
		{"p90 of 1..10 is exact", millis(10), 90, 9 * ms},
		{"p99.9 of 1..1000", millis(1000), 99.9, 999 * ms},
		{"p99.9 of 1..100", millis(100), 99.9, 100 * ms},
		{"p above 100 is clamped", millis(10), 150, 10 * ms},
		{"negative p is clamped", millis(10), -5, 1 * ms},
		{"skewed set", []time.Duration{1 * ms, 1 * ms, 1 * ms, 2 * ms, 400 * ms}, 80, 2 * ms},
	} {
		if got := Percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: Percentile(%d values, %v) = %v, want %v", tt.name, len(tt.sorted), tt.p, got, tt.want)
		}
	}
}

func TestReportSummaries(t *testing.T) {
	r := &Report{
		Requests:  10,
		OK:        8,
		Errors:    map[string]int{"503": 1, "timeout": 1},
		Elapsed:   2 * time.Second,
		Latencies: millis(8),
	}
	if got, want := r.Throughput(), 4.0; got != want {
		t.Errorf("Throughput() = %v, want %v", got, want)
	}
	if got, want := r.Failed(), 2; got != want {
		t.Errorf("Failed() = %d, want %d", got, want)
	}
	if got, want := r.Max(), 8*time.Millisecond; got != want {
		t.Errorf("Max() = %v, want %v", got, want)
	}
	if got, want := r.Percentile(50), 4*time.Millisecond; got != want {
		t.Errorf("Percentile(50) = %v, want %v", got, want)
	}
	if r.Stopped() {
		t.Errorf("Stopped() = true for a report with nothing aborted or unsent, want false")
	}
	if got := (&Report{}).Throughput(); got != 0 {
		t.Errorf("Throughput() of an empty report = %v, want 0", got)
	}
}
