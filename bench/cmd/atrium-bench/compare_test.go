package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atriumid/atrium/bench/loadgen"
	"github.com/atriumid/atrium/internal/fault"
	"github.com/google/go-cmp/cmp"
)

func TestParseCompare(t *testing.T) {
	def := config{accounts: 200, serverArgs: "--x 1"}
	for _, tt := range []struct {
		in   string
		want []config
	}{
		{"accounts=10000; accounts=1000000", []config{
			{label: "accounts=10000", accounts: 10000, serverArgs: "--x 1"},
			{label: "accounts=1000000", accounts: 1000000, serverArgs: "--x 1"},
		}},
		{" server-args = --cache-size  0 ;server-args=, accounts=5", []config{
			{label: "server-args=--cache-size  0", accounts: 200, serverArgs: "--cache-size 0"},
			{label: "server-args=, accounts=5", accounts: 5},
		}},
		{"accounts=1;accounts=2;accounts=3;accounts=4", []config{
			{label: "accounts=1", accounts: 1, serverArgs: "--x 1"},
			{label: "accounts=2", accounts: 2, serverArgs: "--x 1"},
			{label: "accounts=3", accounts: 3, serverArgs: "--x 1"},
			{label: "accounts=4", accounts: 4, serverArgs: "--x 1"},
		}},
	} {
		got, err := parseCompare(tt.in, def)
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(config{})); err != nil || diff != "" {
			t.Errorf("parseCompare(%q) = %v; configurations (-want +got):\n%s", tt.in, err, diff)
		}
	}
	for _, in := range []string{
		"",
		"accounts=10", // one configuration
		"accounts=1;accounts=2;accounts=3;accounts=4;accounts=5",
		"accounts=10;", // an empty configuration
		"accounts=10;;accounts=20",
		"accounts=10,;accounts=20", // an empty setting
		"accounts=10; accounts=10", // the same twice
		"accounts=0; accounts=10",
		"accounts=x; accounts=10",
		"accounts=20000000; accounts=10",
		"accounts; accounts=10",
		"cache=on; cache=off",
	} {
		if _, err := parseCompare(in, def); !fault.Is(err, fault.Invalid) {
			t.Errorf("parseCompare(%q) = %v, want an Invalid error", in, err)
		}
	}
}

func TestGrowth(t *testing.T) {
	ms := time.Millisecond
	// res returns a result whose round i has p99 p99s[i] (and p50 1ms).
	res := func(p99s ...time.Duration) result {
		var r result
		for _, p := range p99s {
			lat := slices.Repeat([]time.Duration{ms}, 98)
			r.rounds = append(r.rounds, &loadgen.Report{OK: 100, Elapsed: time.Second, Latencies: append(lat, p, p)})
		}
		return r
	}
	small, smallBase := res(10*ms, 20*ms, 10*ms), res(2*ms, 8*ms, 2*ms)
	// Round 2 ran on a loaded machine: every p99 in it doubled.
	large, largeBase := res(11*ms, 44*ms, 13*ms), res(2*ms, 16*ms, 2*ms)
	if got, want := growth(large, small, nil, nil), 1.3; !near(got, want) {
		t.Errorf("growth = %v, want %v (the median of 1.1, 2.2, 1.3)", got, want)
	}
	if got, want := growth(large, small, &largeBase, &smallBase), 1.1; !near(got, want) {
		t.Errorf("growth vs baseline = %v, want %v (the median of 1.1, 1.1, 1.3)", got, want)
	}
	if got := growth(large, res(0, 0, 0), nil, nil); got != 0 {
		t.Errorf("growth over rounds without a p99 = %v, want 0", got)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestCompareMarkdown(t *testing.T) {
	ms := time.Millisecond
	rep := func(p99 time.Duration) *loadgen.Report {
		lat := slices.Repeat([]time.Duration{ms}, 98)
		return &loadgen.Report{Requests: 100, Concurrency: 4, OK: 100, Errors: map[string]int{}, Elapsed: time.Second, Latencies: append(lat, p99, p99)}
	}
	one := func(name string, p99s ...time.Duration) result {
		r := result{name: name}
		for _, p := range p99s {
			r.rounds = append(r.rounds, rep(p))
		}
		return r
	}
	o := options{n: 100, c: 4, rounds: 2, compare: []config{{label: "accounts=10"}, {label: "accounts=100"}}}
	md := compareMarkdown(o, time.Unix(0, 0), [][]result{
		{one("baseline", 2*ms, 2*ms), one("GetAccount", 10*ms, 10*ms), one("ResolveIdentifier", 4*ms, 4*ms)},
		{one("baseline", 4*ms, 4*ms), one("GetAccount", 12*ms, 12*ms), one("ResolveIdentifier", 8*ms, 8*ms)},
	})
	rows := tableRows(md)
	want := [][]string{
		{"GetAccount", "accounts=10", "1.00 ms", "10.00 ms", "5.00×", "1.00×", "1.00×"},
		{"GetAccount", "accounts=100", "1.00 ms", "12.00 ms", "3.00×", "1.20×", "0.60×"},
		{"ResolveIdentifier", "accounts=10", "1.00 ms", "4.00 ms", "2.00×", "1.00×", "1.00×"},
		{"ResolveIdentifier", "accounts=100", "1.00 ms", "8.00 ms", "2.00×", "2.00×", "1.00×"},
	}
	if diff := cmp.Diff(want, rows[:4]); diff != "" {
		t.Errorf("growth rows (-want +got):\n%s", diff)
	}
	if len(rows) != 4+2*3 {
		t.Errorf("compareMarkdown has %d table rows, want 4 growth rows and 3 per configuration:\n%s", len(rows), md)
	}
	for _, heading := range []string{"### accounts=10\n", "### accounts=100\n"} {
		if !strings.Contains(md, heading) {
			t.Errorf("compareMarkdown lacks the heading %q:\n%s", heading, md)
		}
	}
}

func TestCompareAgainstFakeServers(t *testing.T) {
	stats := filepath.Join(t.TempDir(), "stats.json")
	t.Setenv(fakeModeEnv, "serve")
	t.Setenv(fakeStatsEnv, stats)
	var stdout, stderr bytes.Buffer
	args := []string{"-bin", os.Args[0], "-n", "30", "-rounds", "2", "-c", "4", "-warmup", "5", "-compare", "accounts=20; accounts=40"}
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run(%q) = %v; stderr:\n%s", args, err, &stderr)
	}
	f, err := os.Open(stats)
	if err != nil {
		t.Fatalf("the fake servers wrote no stats, so they were not stopped by SIGTERM: %v", err)
	}
	defer f.Close()
	var got []fakeStats
	for dec := json.NewDecoder(f); ; {
		var s fakeStats
		if err := dec.Decode(&s); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	slices.SortFunc(got, func(a, b fakeStats) int { return a.Creates - b.Creates })
	// Each server: its pool, then reads only; the baseline's fetch, warm-up, rounds.
	want := []fakeStats{
		{Creates: 20, Gets: 1 + 5 + 2*30, Resolves: 5 + 2*30, Usernames: 20, Graceful: true},
		{Creates: 40, Gets: 1 + 5 + 2*30, Resolves: 5 + 2*30, Usernames: 40, Graceful: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("what the servers served (-want +got):\n%s", diff)
	}
	rows := tableRows(stdout.String())
	if len(rows) != 4+2*3 {
		t.Fatalf("run printed %d table rows, want 10:\n%s", len(rows), &stdout)
	}
	for i, label := range []string{"accounts=20", "accounts=40", "accounts=20", "accounts=40"} {
		if rows[i][1] != label {
			t.Errorf("growth row %d is for %q, want %q", i, rows[i][1], label)
		}
	}
}
