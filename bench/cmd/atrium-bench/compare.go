package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/internal/fault"
)

// Comparing configurations: every configuration gets its own server on its
// own database, with its own pool and its own baseline, all running at
// once; each round measures the reads of every configuration in turn, so
// that a change in the machine's load hits them all alike. Only reads are
// measured: creates would grow the pools during the run. The growth of a
// configuration is taken round by round against the first configuration,
// and the table shows the median over the rounds.

// maxConfigs bounds the configurations of one run: each is a server and a
// baseline running throughout.
const maxConfigs = 4

// config is one server configuration to measure.
type config struct {
	label      string // as given, for the tables
	accounts   int    // size of the pool
	serverArgs string // more flags for atrium serve, space-separated
}

// parseCompare parses -compare: configurations separated by ";", each a
// list of key=value separated by ",", with keys accounts and server-args.
// What a configuration leaves out it takes from def.
func parseCompare(s string, def config) ([]config, error) {
	const op = "bench.flags"
	var out []config
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ";") {
		c := def
		var parts []string
		for kv := range strings.SplitSeq(item, ",") {
			key, value, ok := strings.Cut(kv, "=")
			key, value = strings.TrimSpace(key), strings.TrimSpace(value)
			switch {
			case !ok && key == "":
				return nil, fault.E(op, fault.Invalid, "-compare: empty configuration or setting in %q", s)
			case !ok:
				return nil, fault.E(op, fault.Invalid, "-compare: %q is not key=value", key)
			case key == "accounts":
				n, err := strconv.Atoi(value)
				if err != nil || n < 1 || n > loadgen.MaxRequests {
					return nil, fault.E(op, fault.Invalid, "-compare: accounts must be a number between 1 and %d", loadgen.MaxRequests)
				}
				c.accounts = n
			case key == "server-args":
				c.serverArgs = strings.Join(strings.Fields(value), " ")
			default:
				return nil, fault.E(op, fault.Invalid, "-compare: unknown setting %q; accounts and server-args are known", key)
			}
			parts = append(parts, key+"="+value)
		}
		c.label = strings.Join(parts, ", ")
		if seen[c.label] {
			return nil, fault.E(op, fault.Invalid, "-compare: %q is given twice", c.label)
		}
		seen[c.label] = true
		out = append(out, c)
	}
	if len(out) < 2 || len(out) > maxConfigs {
		return nil, fault.E(op, fault.Invalid, "-compare needs 2 to %d configurations separated by \";\"", maxConfigs)
	}
	return out, nil
}

// compareReport prepares every configuration, measures their reads in
// interleaved rounds and renders the comparison.
func (o options) compareReport(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	var targets []*target
	defer func() {
		for _, t := range targets {
			t.stop(stderr)
		}
	}()
	var scenarios []scenario
	for i, c := range o.compare {
		fmt.Fprintf(stderr, "atrium-bench: preparing %s\n", c.label)
		t, err := o.prepare(ctx, filepath.Join(dir, strconv.Itoa(i)), c, stderr)
		if err != nil {
			return "", err
		}
		targets = append(targets, t)
		scenarios = append(scenarios, t.reads(o)...)
	}
	results, err := o.measure(ctx, scenarios)
	if err != nil {
		return "", err
	}
	per := len(scenarios) / len(targets)
	var grouped [][]result
	for i := range targets {
		grouped = append(grouped, results[i*per:(i+1)*per])
	}
	return compareMarkdown(o, time.Now(), grouped), nil
}

// compareMarkdown renders the results of each configuration (in the order
// of o.compare, the baseline first in each) as a growth table against the
// first configuration, then one table per configuration.
func compareMarkdown(o options, at time.Time, results [][]result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Atrium benchmark, %d configurations compared, %s\n\n", len(results), at.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "%s; each configuration on its own server and new SQLite database, with its own pool (%s) and its own baseline, all running at once; "+
		"load generator and servers on the same machine over loopback. "+
		"Each scenario: %d warm-up requests, then %d rounds of %d requests at concurrency %d, "+
		"every scenario of every configuration once per round, in turn. "+
		"p50 and p99 are medians over the rounds; growth divides a configuration's p99 by the first configuration's in the same round "+
		"(\"vs baseline\": each p99 first divided by its own baseline's), median over the rounds.\n\n",
		o.machine(), o.poolMethod(), o.warmup, o.rounds, o.n, o.c)
	fmt.Fprintf(&b, "| scenario | configuration | p50 | p99 | p99 vs baseline | p99 growth | p99 vs baseline, growth |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|\n")
	if len(results) == 0 {
		return b.String()
	}
	ref := results[0]
	for j := 1; j < len(ref); j++ {
		for i, rs := range results {
			s, base := summarize(rs[j]), summarize(rs[0])
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n",
				rs[j].name, o.compare[i].label, millis(s.p50), millis(s.p99), ratio(s.p99, base.p99),
				ratio(growth(rs[j], ref[j], nil, nil), 1), ratio(growth(rs[j], ref[j], &rs[0], &ref[0]), 1))
		}
	}
	for i, rs := range results {
		fmt.Fprintf(&b, "\n### %s\n\n", o.compare[i].label)
		table(&b, o, rs)
	}
	return b.String()
}

// poolMethod says how the pools were made.
func (o options) poolMethod() string {
	if o.bulk {
		return "seeded into the database before the server started"
	}
	return "created through the API"
}

// growth returns the median over the rounds of x's p99 divided by ref's
// in the same round; with baselines, each p99 is first divided by its
// baseline's in that round. Rounds in which a p99 is missing are left out;
// none left gives zero.
func growth(x, ref result, xBase, refBase *result) float64 {
	p99 := func(r result, i int) float64 { return r.rounds[i].Percentile(99).Seconds() }
	var gs []float64
	for i := range min(len(x.rounds), len(ref.rounds)) {
		g := p99(x, i) / p99(ref, i)
		if xBase != nil {
			g *= p99(*refBase, i) / p99(*xBase, i)
		}
		if g > 0 && !math.IsInf(g, 0) && !math.IsNaN(g) {
			gs = append(gs, g)
		}
	}
	return median(gs)
}
