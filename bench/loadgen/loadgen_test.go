package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/fault"
	"github.com/google/go-cmp/cmp"
)

// recorder is a test server that answers every request with its index (the
// "i" query parameter) and counts the indices it has seen.
type recorder struct {
	mu   sync.Mutex
	seen map[int]int // guarded by mu
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.URL.Query().Get("i"))
	if err != nil {
		http.Error(w, "no index", http.StatusBadRequest)
		return
	}
	rec.mu.Lock()
	rec.seen[i]++
	rec.mu.Unlock()
	if i%10 == 0 {
		http.Error(w, "every tenth fails", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "%d", i)
}

// blocking is a test server whose handlers wait for the client to go away.
func blocking(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func indexed(base string) func(int) Request {
	return func(i int) Request { return Request{URL: base + "/?i=" + strconv.Itoa(i)} }
}

func TestRunCountsExactly(t *testing.T) {
	for _, tt := range []struct {
		name string
		rate float64
	}{
		{"closed loop", 0},
		{"open loop", 5000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{seen: map[int]int{}}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			const n = 500
			var mu sync.Mutex
			var observed []int
			rep, err := Run(t.Context(), Plan{
				Requests:    n,
				Concurrency: 8,
				Rate:        tt.rate,
				Build:       indexed(srv.URL),
				Observe: func(i int, body []byte) {
					if string(body) != strconv.Itoa(i) {
						t.Errorf("Observe(%d, %q): body is not the index", i, body)
					}
					mu.Lock()
					observed = append(observed, i)
					mu.Unlock()
				},
			})
			if err != nil {
				t.Fatalf("Run = %v, want nil error", err)
			}
			wantSeen := map[int]int{}
			var wantObserved []int
			for i := range n {
				wantSeen[i] = 1
				if i%10 != 0 {
					wantObserved = append(wantObserved, i)
				}
			}
			if diff := cmp.Diff(wantSeen, rec.seen); diff != "" {
				t.Errorf("requests seen by the server (-want +got):\n%s", diff)
			}
			slices.Sort(observed)
			if diff := cmp.Diff(wantObserved, observed); diff != "" {
				t.Errorf("indices observed (-want +got):\n%s", diff)
			}
			got := summary{rep.OK, rep.Errors, rep.Statuses, len(rep.Latencies), rep.Aborted, rep.Unsent}
			want := summary{450, map[string]int{"503": 50}, map[int]int{200: 450, 503: 50}, 450, 0, 0}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Run report (-want +got):\n%s", diff)
			}
			if !slices.IsSorted(rep.Latencies) {
				t.Errorf("Run report latencies are not sorted")
			}
		})
	}
}

// summary is the part of a Report that a test can predict exactly.
type summary struct {
	OK        int
	Errors    map[string]int
	Statuses  map[int]int
	Latencies int
	Aborted   int
	Unsent    int
}

func TestRunSendsMethodHeaderAndBody(t *testing.T) {
	type seen struct{ Method, Auth, Body string }
	got := make(chan seen, 3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		got <- seen{r.Method, r.Header.Get("Authorization"), string(b[:n])}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	header := http.Header{"Authorization": {"Bearer k"}}
	rep, err := Run(t.Context(), Plan{
		Requests:    3,
		Concurrency: 1,
		Build: func(i int) Request {
			return Request{Method: http.MethodPost, URL: srv.URL, Header: header, Body: []byte(strconv.Itoa(i))}
		},
	})
	if err != nil || rep.OK != 3 {
		t.Fatalf("Run = %+v, %v; want 3 successes", rep, err)
	}
	close(got)
	var all []seen
	for s := range got {
		all = append(all, s)
	}
	want := []seen{{"POST", "Bearer k", "0"}, {"POST", "Bearer k", "1"}, {"POST", "Bearer k", "2"}}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("requests received (-want +got):\n%s", diff)
	}
}

func TestRunCountsFailuresByReason(t *testing.T) {
	notFound := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write(make([]byte, 100))
	}))
	defer notFound.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there any more
	never := blocking(t)

	is404 := func(status int) bool { return status == http.StatusNotFound }
	for _, tt := range []struct {
		name string
		plan Plan
		want summary
	}{
		{"status not a success", Plan{Build: indexed(notFound.URL)},
			summary{Errors: map[string]int{"404": 4}, Statuses: map[int]int{404: 4}}},
		{"status counted as a success", Plan{Build: indexed(notFound.URL), Success: is404},
			summary{OK: 4, Errors: map[string]int{}, Statuses: map[int]int{404: 4}, Latencies: 4}},
		{"body over the limit", Plan{Build: indexed(notFound.URL), Success: is404, MaxBody: 99},
			summary{Errors: map[string]int{"body too large": 4}, Statuses: map[int]int{404: 4}}},
		{"body at the limit", Plan{Build: indexed(notFound.URL), Success: is404, MaxBody: 100},
			summary{OK: 4, Errors: map[string]int{}, Statuses: map[int]int{404: 4}, Latencies: 4}},
		{"server never answers", Plan{Build: indexed(never.URL), Timeout: 20 * time.Millisecond},
			summary{Errors: map[string]int{"timeout": 4}, Statuses: map[int]int{}}},
		{"nothing listening", Plan{Build: indexed(closed.URL)},
			summary{Errors: map[string]int{"transport": 4}, Statuses: map[int]int{}}},
	} {
		tt.plan.Requests, tt.plan.Concurrency = 4, 2
		rep, err := Run(t.Context(), tt.plan)
		if err != nil {
			t.Errorf("%s: Run = %v, want nil error", tt.name, err)
			continue
		}
		got := summary{rep.OK, rep.Errors, rep.Statuses, len(rep.Latencies), rep.Aborted, rep.Unsent}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: Run report (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestRunStopsAtTimeBound(t *testing.T) {
	srv := blocking(t)
	for _, tt := range []struct {
		name        string
		rate        float64
		wantAborted int
	}{
		// Every worker is stuck in a request when the bound passes.
		{"closed loop", 0, 4},
		// The first request is in flight; the others are due long after
		// the bound.
		{"open loop", 1, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			rep, err := Run(t.Context(), Plan{
				Requests: 100, Concurrency: 4, Rate: tt.rate,
				Timeout: time.Minute, MaxDuration: 100 * time.Millisecond,
				Build: indexed(srv.URL),
			})
			if err != nil {
				t.Fatalf("Run = %v, want nil error", err)
			}
			// The bound is what ended the run, not the per-request timeout.
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("Run took %v with a 100ms bound", took)
			}
			got := summary{rep.OK, rep.Errors, rep.Statuses, len(rep.Latencies), rep.Aborted, rep.Unsent}
			want := summary{0, map[string]int{}, map[int]int{}, 0, tt.wantAborted, 100 - tt.wantAborted}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Run report (-want +got):\n%s", diff)
			}
			if !rep.Stopped() {
				t.Errorf("Stopped() = false, want true")
			}
		})
	}
}

func TestRunCanceled(t *testing.T) {
	srv := blocking(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	rep, err := Run(ctx, Plan{Requests: 10, Concurrency: 2, Build: indexed(srv.URL)})
	if !fault.Is(err, fault.Canceled) {
		t.Fatalf("Run(canceled) = %v, want a Canceled error", err)
	}
	if rep == nil || rep.Aborted+rep.Unsent != 10 {
		t.Errorf("Run(canceled) report = %+v, want 10 requests aborted or unsent", rep)
	}
}

// TestOpenLoopMeasuresFromDueTime checks the absence of coordinated
// omission: with one worker and a server that stalls on the first request,
// the second request is due long before it can be sent, and its latency
// must include that wait.
func TestOpenLoopMeasuresFromDueTime(t *testing.T) {
	const stall = 200 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("i") == "0" {
			time.Sleep(stall)
		}
	}))
	defer srv.Close()
	rep, err := Run(t.Context(), Plan{
		Requests: 5, Concurrency: 1, Rate: 100, // due every 10ms
		Build: indexed(srv.URL),
	})
	if err != nil || rep.OK != 5 {
		t.Fatalf("Run = %+v, %v; want 5 successes", rep, err)
	}
	// Request k (k ≥ 1) was due at 10k ms and could not leave before the
	// stall ended, so at least requests 0 and 1 waited about the stall.
	if got := rep.Latencies[len(rep.Latencies)-2]; got < stall-20*time.Millisecond {
		t.Errorf("second-largest latency = %v, want at least %v (wait behind the stall counted)", got, stall-20*time.Millisecond)
	}
}

func TestRunRejectsBadPlans(t *testing.T) {
	build := indexed("http://127.0.0.1:1")
	for _, p := range []Plan{
		{Requests: 0, Concurrency: 1, Build: build},
		{Requests: MaxRequests + 1, Concurrency: 1, Build: build},
		{Requests: 1, Concurrency: 0, Build: build},
		{Requests: 1, Concurrency: MaxConcurrency + 1, Build: build},
		{Requests: 1, Concurrency: 1, Rate: -1, Build: build},
		{Requests: 1, Concurrency: 1, Timeout: -1, Build: build},
		{Requests: 1, Concurrency: 1, MaxDuration: -1, Build: build},
		{Requests: 1, Concurrency: 1, MaxBody: -1, Build: build},
		{Requests: 1, Concurrency: 1},
	} {
		if _, err := Run(t.Context(), p); !fault.Is(err, fault.Invalid) {
			t.Errorf("Run(%+v) = %v, want an Invalid error", p, err)
		}
	}
}
