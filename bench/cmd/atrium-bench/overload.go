package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/internal/fault"
)

// The overload curve: GetAccount offered at multiples of the capacity the
// same server showed in a closed loop, in an open loop so that a stalled
// server shows in every request queued behind it. It is measured twice, on
// a server with load shedding (the defaults) and on one without
// (--max-concurrency 0), each on a new database.

// overloadFactors are the offered loads, as multiples of the capacity.
var overloadFactors = []float64{0.5, 1, 1.5, 2, 3, 4}

// overloadConcurrency bounds the requests in flight of an open-loop step:
// enough that the generator keeps to its schedule while the server sheds,
// and a bound on what a server without shedding is sent at once.
const overloadConcurrency = 1024

// curve is one server's overload curve.
type curve struct {
	name   string
	peak   float64 // closed-loop goodput, requests/s
	points []*loadgen.Report
}

// overloadReport measures both curves and renders them.
func (o options) overloadReport(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	var curves []curve
	for i, mode := range []struct {
		name string
		args []string
	}{
		{"load shedding on (defaults)", nil},
		{"load shedding off (--max-concurrency 0)", []string{"--max-concurrency", "0"}},
	} {
		sub := filepath.Join(dir, fmt.Sprint(i))
		if err := os.Mkdir(sub, 0o700); err != nil {
			return "", fault.Wrap("bench.overload", fault.Unavailable, err)
		}
		srv, err := startServer(ctx, o.bin, sub, nil, mode.args...)
		if err != nil {
			return "", err
		}
		c, err := o.overloadCurve(ctx, newAPI(srv.Base, srv.Key))
		stopped(srv, stderr)
		if err != nil {
			return "", err
		}
		c.name = mode.name
		curves = append(curves, c)
	}
	return overloadMarkdown(o, time.Now(), curves), nil
}

// overloadCurve creates the account pool, finds the capacity with a
// closed loop of -c requests in flight, then offers each factor of it for
// -step.
func (o options) overloadCurve(ctx context.Context, a api) (curve, error) {
	ids, err := a.createPool(ctx, o.accounts, o.c)
	if err != nil {
		return curve{}, err
	}
	get := a.get(ids)
	run := func(n, c int, rate float64) (*loadgen.Report, error) {
		return loadgen.Run(ctx, loadgen.Plan{Requests: max(n, 1), Concurrency: c, Rate: rate,
			Timeout: o.timeout, MaxDuration: o.maxDuration, Build: get,
			Success: func(status int) bool { return status == http.StatusOK }})
	}
	if o.warmup > 0 {
		if _, err := run(o.warmup, o.c, 0); err != nil {
			return curve{}, err
		}
	}
	peak, err := run(o.n, o.c, 0)
	if err != nil {
		return curve{}, err
	}
	c := curve{peak: peak.Throughput()}
	if c.peak <= 0 {
		return c, fault.E("bench.overload", fault.FailedPrecondition, "no request succeeded in the capacity run: %s", errorSummary(peak))
	}
	for _, f := range overloadFactors {
		rate := f * c.peak
		rep, err := run(min(int(rate*o.step.Seconds()), loadgen.MaxRequests), overloadConcurrency, rate)
		if err != nil {
			return c, err
		}
		c.points = append(c.points, rep)
	}
	return c, nil
}

// overloadMarkdown renders the curves as a heading, the conditions of the
// run, and one table per curve.
func overloadMarkdown(o options, at time.Time, curves []curve) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Atrium overload curve, %s\n\n", at.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "%s on a new SQLite database per curve; "+
		"load generator and server on the same machine over loopback. GetAccount on a pool of %d accounts. "+
		"Capacity: goodput of %d requests in a closed loop at concurrency %d, after %d warm-up requests. "+
		"Each step then offers a multiple of that capacity for %s in an open loop (at most %d in flight); "+
		"latencies are of successful requests, from the moment each was due.\n\n",
		o.machine(), o.accounts, o.n, o.c, o.warmup, o.step, overloadConcurrency)
	for _, c := range curves {
		fmt.Fprintf(&b, "### %s: capacity %.0f req/s\n\n", c.name, c.peak)
		b.WriteString("| offered | offered req/s | goodput req/s | goodput vs capacity | p50 | p99 | shed (429, 503) | other failures |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for i, r := range c.points {
			shed := r.Errors["429"] + r.Errors["503"]
			other := *r
			other.Errors = map[string]int{}
			for k, v := range r.Errors {
				if k != "429" && k != "503" {
					other.Errors[k] = v
				}
			}
			fmt.Fprintf(&b, "| %.1f× | %.0f | %.0f | %s | %s | %s | %d (%.0f%%) | %s |\n",
				overloadFactors[i], float64(r.Requests-r.Unsent)/r.Elapsed.Seconds(), r.Throughput(),
				ratio(r.Throughput(), c.peak), millis(r.Percentile(50).Seconds()), millis(r.Percentile(99).Seconds()),
				shed, 100*float64(shed)/float64(max(r.Requests, 1)), errorSummary(&other))
		}
		b.WriteString("\n")
	}
	return b.String()
}
