package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
)

// verified is how many sample answers of a server differed from the
// oracle.
type verified struct {
	system          string
	answered, wrong int
}

// report is everything the markdown shows.
type report struct {
	opts                  options
	tuples                int
	started               time.Time
	loadBefore, loadAfter string
	loads                 []loaded
	verified              []verified
	results               []*result
}

// figures are the medians over the rounds of one result.
type figures struct {
	rps, minRPS, maxRPS float64
	p50, p99            time.Duration
	failed, wrong       int
}

func (r *result) figures() figures {
	var rps []float64
	var p50, p99 []time.Duration
	var f figures
	for _, x := range r.runs {
		rps = append(rps, x.rep.Throughput())
		p50 = append(p50, x.rep.Percentile(50))
		p99 = append(p99, x.rep.Percentile(99))
		f.failed += x.rep.Failed() + x.rep.Aborted + x.rep.Unsent
		f.wrong += x.wrong
	}
	if len(rps) == 0 {
		return f
	}
	f.rps, f.p50, f.p99 = middle(rps), middle(p50), middle(p99)
	f.minRPS, f.maxRPS = slices.Min(rps), slices.Max(rps)
	return f
}

// middle returns the median of xs (the lower middle for an even count, so
// that it is always a measured value).
func middle[T int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func (rep *report) markdown() string {
	o := rep.opts
	var b strings.Builder
	fmt.Fprintf(&b, "### Relationship checks, %s\n\n", rep.started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "%s %s/%s, %d CPUs, load average %s before and %s after the run. "+
		"Datastores: Atrium SQLite (its default), OpenFGA %s, SpiceDB memory. "+
		"%d tuples written through each server's HTTP API in batches of %d; every server and the load generator on this machine over loopback. "+
		"Each scenario: %d warm-up checks, then %d rounds of %d checks, closed loop; rounds interleave every scenario and server. "+
		"Queries cycle through pools of %d distinct checks, the same sequence for every server. Figures are medians over the rounds.\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), rep.loadBefore, rep.loadAfter,
		o.openfgaStore, rep.tuples, batch, o.warmup, o.rounds, o.n, o.pool)
	b.WriteString("| server | tuples written in | sample checks answered | wrong answers |\n|---|---:|---:|---:|\n")
	for i, l := range rep.loads {
		v := rep.verified[i]
		fmt.Fprintf(&b, "| %s | %.1f s | %d of %d | %d |\n", l.system, l.elapsed.Seconds(), v.answered, 3*verifySample, v.wrong)
	}
	b.WriteString("\n| scenario | server | checks/s | min–max | p50 | p99 | failed | wrong |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.results {
		f := r.figures()
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f–%.0f | %s | %s | %d | %d |\n",
			r.scenario.name, r.system, f.rps, f.minRPS, f.maxRPS, ms(f.p50), ms(f.p99), f.failed, f.wrong)
	}
	b.WriteString("\n| scenario | Atrium checks/s ÷ OpenFGA | ÷ SpiceDB | Atrium p99 ÷ OpenFGA p99 | ÷ SpiceDB p99 |\n|---|---:|---:|---:|---:|\n")
	for _, sc := range o.scenarios() {
		fig := map[string]figures{}
		for _, r := range rep.results {
			if r.scenario == sc {
				fig[r.system] = r.figures()
			}
		}
		a := fig["Atrium"]
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", sc.name,
			times(a.rps, fig["OpenFGA"].rps), times(a.rps, fig["SpiceDB"].rps),
			times(a.p99.Seconds(), fig["OpenFGA"].p99.Seconds()), times(a.p99.Seconds(), fig["SpiceDB"].p99.Seconds()))
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", d.Seconds()*1000) }

func times(x, of float64) string {
	if x == 0 || of == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", x/of)
}
