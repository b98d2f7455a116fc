// Package loadgen drives an HTTP server on this machine with a fixed number
// of requests and records the latency of every one of them.
//
// Two shapes of load are offered. A closed loop keeps a fixed number of
// requests in flight: each worker sends its next request as soon as the
// previous one is answered, so the server sets the pace; this measures
// throughput. An open loop sends at a constant arrival rate whatever the
// server does, and measures each latency from the moment the request was due
// to be sent rather than from when it actually left; a stalled server
// therefore shows up in the latencies of every request queued behind it
// instead of silently slowing the load down (no coordinated omission). Use it
// for overload tests.
//
// The generator only ever talks to loopback addresses: targets are checked
// when each request is built, and the dialer refuses any address off the
// machine. Every run is bounded in requests, in time per request and in
// total time.
package loadgen

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atriumid/atrium/internal/fault"
)

// Limits and defaults of a Plan.
const (
	MaxRequests        = 10_000_000 // a Plan's Requests at most; latencies are kept in memory
	MaxConcurrency     = 10_000     // a Plan's Concurrency at most
	DefaultTimeout     = 10 * time.Second
	DefaultMaxDuration = 5 * time.Minute
	DefaultMaxBody     = 4 << 20 // bytes of a response body read at most
)

// Request is one HTTP request of a run. Header and Body may be shared between
// requests: the generator never modifies them.
type Request struct {
	Method string      // GET when empty
	URL    string      // an http or https URL on a loopback host
	Header http.Header // sent as is
	Body   []byte      // nil for no body
}

// Plan describes one run.
type Plan struct {
	// Requests is the total number of requests to send, at least 1.
	Requests int
	// Concurrency is the number of requests in flight at most. In a closed
	// loop it is exactly the number of workers; in an open loop it bounds
	// them, and a request due while all are busy waits, its wait counting
	// in its latency.
	Concurrency int
	// Rate, when positive, makes the run an open loop sending Rate requests
	// per second; zero means a closed loop.
	Rate float64
	// Timeout bounds each request, from sending to the end of its body.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxDuration bounds the whole run: when it passes, requests in flight
	// are abandoned and the rest are not sent. Zero means DefaultMaxDuration.
	MaxDuration time.Duration
	// MaxBody bounds how much of each response body is read; a longer body
	// counts as an error. Zero means DefaultMaxBody.
	MaxBody int64
	// Build returns request i, for i in [0, Requests). It is called from
	// several goroutines at once, once per request sent, so that each
	// request can differ (a random id from a pool, a unique name).
	Build func(i int) Request
	// Success reports whether a status counts as a success. Nil means any
	// 2xx status.
	Success func(status int) bool
	// Observe, when set, receives the body of every successful response
	// (for instance to collect the ids of created resources). It is called
	// from several goroutines at once and must not retain body.
	Observe func(i int, body []byte)
}

func (p Plan) withDefaults() (Plan, error) {
	const op = "loadgen.Plan"
	switch {
	case p.Requests < 1 || p.Requests > MaxRequests:
		return p, fault.E(op, fault.Invalid, "requests must be between 1 and %d", MaxRequests)
	case p.Concurrency < 1 || p.Concurrency > MaxConcurrency:
		return p, fault.E(op, fault.Invalid, "concurrency must be between 1 and %d", MaxConcurrency)
	case p.Rate < 0 || p.Timeout < 0 || p.MaxDuration < 0 || p.MaxBody < 0:
		return p, fault.E(op, fault.Invalid, "rate, timeout, max duration and max body must not be negative")
	case p.Build == nil:
		return p, fault.E(op, fault.Invalid, "a plan needs a Build function")
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	if p.MaxDuration == 0 {
		p.MaxDuration = DefaultMaxDuration
	}
	if p.MaxBody == 0 {
		p.MaxBody = DefaultMaxBody
	}
	if p.Success == nil {
		p.Success = func(status int) bool { return status >= 200 && status < 300 }
	}
	return p, nil
}

// Run sends the requests of p and reports what happened.
//
// Reaching p.MaxDuration is not an error: the report says how many requests
// were abandoned and not sent. Run returns an Invalid error, and sends no
// further requests, when p is malformed or a request targets a host that is
// not loopback (wrapping ErrNotLoopback); it returns the partial report and
// a Canceled error when ctx ends first.
func Run(ctx context.Context, p Plan) (*Report, error) {
	const op = "loadgen.Run"
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	bounded, stopBound := context.WithTimeout(ctx, p.MaxDuration)
	defer stopBound()
	runCtx, abort := context.WithCancelCause(bounded)
	defer abort(nil)

	r := &run{plan: p, ctx: runCtx, abort: abort, client: NewClient(p.Concurrency)}
	defer r.client.CloseIdleConnections()
	workers := make([]worker, p.Concurrency)
	r.start = time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		workers[w] = worker{statuses: map[int]int{}, errors: map[string]int{}}
		wg.Go(func() { r.loop(&workers[w]) })
	}
	wg.Wait()
	rep := r.report(workers, time.Since(r.start))

	if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
		if ctx.Err() != nil {
			return rep, fault.Wrap(op, fault.Canceled, ctx.Err())
		}
		return nil, cause // a refused request: the report would mislead
	}
	return rep, nil
}

// run is the state shared by the workers of one Run.
type run struct {
	plan   Plan
	ctx    context.Context // ends when the run must stop
	abort  context.CancelCauseFunc
	client *http.Client
	start  time.Time
	next   atomic.Int64 // index of the next request to take
}

// worker is the state of one worker; only its own goroutine touches it until
// the run ends.
type worker struct {
	latencies []time.Duration
	statuses  map[int]int
	errors    map[string]int
	sent      int
	ok        int
	aborted   int
}

func (r *run) loop(w *worker) {
	for r.ctx.Err() == nil {
		i := int(r.next.Add(1) - 1)
		if i >= r.plan.Requests {
			return
		}
		due := time.Time{}
		if r.plan.Rate > 0 {
			due = r.start.Add(time.Duration(float64(i) * float64(time.Second) / r.plan.Rate))
			if !sleepUntil(r.ctx, due) {
				return
			}
		}
		r.send(w, i, due)
	}
}

// sleepUntil waits for t and reports whether ctx is still live.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// send sends request i and records its outcome in w. due is the time the
// request was scheduled for in an open loop, zero in a closed loop.
func (r *run) send(w *worker, i int, due time.Time) {
	reqCtx, cancel := context.WithTimeout(r.ctx, r.plan.Timeout)
	defer cancel()
	req, err := newRequest(reqCtx, r.plan.Build(i))
	if err != nil {
		r.abort(err)
		return
	}
	w.sent++
	if due.IsZero() {
		due = time.Now()
	}
	status, body, err := r.exchange(req)
	latency := time.Since(due)
	switch {
	case err != nil && r.ctx.Err() != nil:
		w.aborted++
	case err != nil && reqCtx.Err() != nil:
		w.errors["timeout"]++
	case errors.Is(err, errBodyTooLarge):
		w.statuses[status]++
		w.errors["body too large"]++
	case err != nil:
		w.errors["transport"]++
	case !r.plan.Success(status):
		w.statuses[status]++
		w.errors[strconv.Itoa(status)]++
	default:
		w.statuses[status]++
		w.ok++
		w.latencies = append(w.latencies, latency)
		if r.plan.Observe != nil {
			r.plan.Observe(i, body)
		}
	}
}

var errBodyTooLarge = errors.New("response body over the limit")

// exchange performs req and reads the response body, keeping it only when
// the plan observes bodies.
func (r *run) exchange(req *http.Request) (status int, body []byte, err error) {
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	limited := io.LimitReader(resp.Body, r.plan.MaxBody+1)
	var n int64
	if r.plan.Observe != nil {
		body, err = io.ReadAll(limited)
		n = int64(len(body))
	} else {
		n, err = io.Copy(io.Discard, limited)
	}
	if err == nil && n > r.plan.MaxBody {
		err = errBodyTooLarge
	}
	return resp.StatusCode, body, err
}

func (r *run) report(workers []worker, elapsed time.Duration) *Report {
	rep := &Report{
		Requests:    r.plan.Requests,
		Concurrency: r.plan.Concurrency,
		Rate:        r.plan.Rate,
		Elapsed:     elapsed,
		Statuses:    map[int]int{},
		Errors:      map[string]int{},
	}
	sent := 0
	for _, w := range workers {
		sent += w.sent
		rep.OK += w.ok
		rep.Aborted += w.aborted
		rep.Latencies = append(rep.Latencies, w.latencies...)
		for k, v := range w.statuses {
			rep.Statuses[k] += v
		}
		for k, v := range w.errors {
			rep.Errors[k] += v
		}
	}
	rep.Unsent = r.plan.Requests - sent
	slices.Sort(rep.Latencies)
	return rep
}
