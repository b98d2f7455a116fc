package loadgen

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// BenchmarkRun measures the cost of one request through the generator
// against an in-process server that answers at once: the floor under every
// figure the generator reports on this machine.
func BenchmarkRun(b *testing.B) {
	body := []byte(`{"id":"org_01JD3QZ8M6X4T5W2K9B7C1D0EF","kind":"org","state":"active"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	for _, c := range []int{1, 8} {
		b.Run("c="+strconv.Itoa(c), func(b *testing.B) {
			rep, err := Run(b.Context(), Plan{
				Requests: max(b.N, c), Concurrency: c,
				Build: func(int) Request { return Request{URL: srv.URL} },
			})
			if err != nil || rep.OK != max(b.N, c) {
				b.Fatalf("Run = %+v, %v", rep, err)
			}
		})
	}
}

// BenchmarkPercentile measures summarising a large run: sorting a million
// latencies and reading three percentiles.
func BenchmarkPercentile(b *testing.B) {
	src := make([]time.Duration, 1_000_000)
	for i := range src {
		src[i] = time.Duration((i * 7919) % 1_000_003)
	}
	w := make([]worker, 1)
	r := &run{plan: Plan{Requests: len(src)}}
	for b.Loop() {
		w[0].latencies = append(w[0].latencies[:0], src...)
		rep := r.report(w, time.Second)
		_ = rep.Percentile(50) + rep.Percentile(99) + rep.Max()
	}
}
