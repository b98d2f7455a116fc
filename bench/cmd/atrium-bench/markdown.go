package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
)

// markdown renders the results, the first of which is the baseline, as a
// heading, a paragraph on the conditions of the run, and a table of the
// medians over the rounds.
func markdown(o options, at time.Time, results []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Atrium benchmark, %s\n\n", at.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "%s on a new SQLite database; "+
		"load generator and servers on the same machine over loopback. "+
		"Each scenario: %d warm-up requests, then %d rounds of %d requests at concurrency %d, "+
		"the scenarios interleaved; GetAccount pool of %d accounts, %s. "+
		"Figures are medians over the rounds; ratios divide them by the baseline's, measured in this run.\n\n",
		o.machine(), o.warmup, o.rounds, o.n, o.c, o.accounts, o.poolMethod())
	table(&b, o, results)
	return b.String()
}

// table writes the table of the results, the first of which is the
// baseline: the medians over the rounds, and ratios to the baseline's.
func table(b *strings.Builder, o options, results []result) {
	b.WriteString("| scenario | requests | concurrency | req/s | req/s min–max | p50 | p99 | errors | req/s vs baseline | p99 vs baseline |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|\n")
	if len(results) == 0 {
		return
	}
	base := summarize(results[0])
	for _, r := range results {
		s := summarize(r)
		fmt.Fprintf(b, "| %s | %d × %d | %d | %.0f | %.0f–%.0f | %s | %s | %s | %s | %s |\n",
			r.name, len(r.rounds), o.n, o.c, s.throughput, s.minThroughput, s.maxThroughput,
			millis(s.p50), millis(s.p99), s.errors,
			ratio(s.throughput, base.throughput), ratio(s.p99, base.p99))
	}
}

// machine describes where the figures come from: Go, the platform, the
// CPUs and the server measured.
func (o options) machine() string {
	return fmt.Sprintf("%s %s/%s, %d CPUs; `%s serve%s`", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), filepath.Base(o.bin),
		strings.TrimRight(" "+o.serverArgs, " "))
}

// summary is what the table shows of a result.
type summary struct {
	throughput, minThroughput, maxThroughput float64 // successful requests per second
	p50, p99                                 float64 // seconds
	errors                                   string
}

func summarize(r result) summary {
	var tp, p50, p99 []float64
	var errs []string
	for i, rep := range r.rounds {
		tp = append(tp, rep.Throughput())
		p50 = append(p50, rep.Percentile(50).Seconds())
		p99 = append(p99, rep.Percentile(99).Seconds())
		if e := errorSummary(rep); e != "0" {
			errs = append(errs, fmt.Sprintf("round %d: %s", i+1, e))
		}
	}
	s := summary{throughput: median(tp), p50: median(p50), p99: median(p99), errors: "0"}
	if len(tp) > 0 {
		s.minThroughput, s.maxThroughput = slices.Min(tp), slices.Max(tp)
	}
	if len(errs) > 0 {
		s.errors = strings.Join(errs, "; ")
	}
	return s
}

// median returns the median of xs, the mean of the middle two for an even
// count, zero for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Sorted(slices.Values(xs))
	m := len(xs) / 2
	if len(xs)%2 == 0 {
		return (xs[m-1] + xs[m]) / 2
	}
	return xs[m]
}

func millis(seconds float64) string {
	return fmt.Sprintf("%.2f ms", seconds*1000)
}

func ratio(x, base float64) string {
	if base == 0 || x == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", x/base)
}

// errorSummary lists a report's failures by reason, and what a time bound
// left undone; "0" when there is nothing to say.
func errorSummary(r *loadgen.Report) string {
	var parts []string
	for _, reason := range slices.Sorted(maps.Keys(r.Errors)) {
		parts = append(parts, fmt.Sprintf("%s×%d", reason, r.Errors[reason]))
	}
	if r.Aborted > 0 {
		parts = append(parts, fmt.Sprintf("%d abandoned", r.Aborted))
	}
	if r.Unsent > 0 {
		parts = append(parts, fmt.Sprintf("%d unsent", r.Unsent))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ", ")
}
