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

func TestRunAgainstFakeServer(t *testing.T) {
	dir := t.TempDir()
	stats, out := filepath.Join(dir, "stats.json"), filepath.Join(dir, "out.md")
	t.Setenv(fakeModeEnv, "serve")
	t.Setenv(fakeStatsEnv, stats)
	var stdout, stderr bytes.Buffer
	args := []string{"-bin", os.Args[0], "-n", "50", "-rounds", "3", "-c", "4", "-accounts", "20", "-warmup", "10", "-out", out}
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run(%q) = %v; stderr:\n%s", args, err, &stderr)
	}

	b, err := os.ReadFile(stats)
	if err != nil {
		t.Fatalf("the fake server wrote no stats, so it was not stopped by SIGTERM: %v", err)
	}
	var got fakeStats
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := fakeStats{
		Creates:   20 + 10 + 3*50, // pool, warm-up, rounds
		Gets:      1 + 10 + 3*50,  // the body for the baseline, warm-up, rounds
		Resolves:  10 + 3*50,
		Usernames: 20 + 10 + 3*50,
		Graceful:  true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("what the server served (-want +got):\n%s", diff)
	}

	rows := tableRows(stdout.String())
	if len(rows) != 4 {
		t.Fatalf("run printed %d table rows, want 4:\n%s", len(rows), &stdout)
	}
	for i, prefix := range []string{"baseline", "GetAccount", "ResolveIdentifier", "CreateAccount"} {
		cells := rows[i]
		if !strings.HasPrefix(cells[0], prefix) || cells[1] != "3 × 50" || cells[2] != "4" || cells[7] != "0" {
			t.Errorf("row %d = %q, want %s with 3 × 50 requests at concurrency 4 and no errors", i, cells, prefix)
		}
	}
	if rows[0][8] != "1.00×" || rows[0][9] != "1.00×" {
		t.Errorf("baseline ratios = %q, %q; want 1.00×, 1.00×", rows[0][8], rows[0][9])
	}
	if file, _ := os.ReadFile(out); string(file) != stdout.String() {
		t.Errorf("-out file differs from stdout:\n%s", file)
	}
	if strings.Contains(stdout.String()+stderr.String(), fakeKey) {
		t.Errorf("the bootstrap key was printed")
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

// tableRows returns the cells of the data rows of a markdown table.
func tableRows(md string) [][]string {
	var rows [][]string
	for line := range strings.Lines(md) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "| scenario") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	return rows
}

func TestRunReportsAServerThatFailsToStart(t *testing.T) {
	t.Setenv(fakeModeEnv, "crash")
	err := run(t.Context(), []string{"-bin", os.Args[0]}, new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "cannot open the database") {
		t.Fatalf("run(crashing server) = %v, want an error quoting the server's output", err)
	}
	if strings.Contains(err.Error(), fakeKey) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("run(crashing server) = %v, want the bootstrap key redacted", err)
	}
}

func TestParseFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-bin", "x", "-n", "0"},
		{"-bin", "x", "-c", "0"},
		{"-bin", "x", "-accounts", "0"},
		{"-bin", "x", "-warmup", "-1"},
		{"-bin", "x", "-timeout", "0s"},
		{"-bin", "x", "-max", "-1s"},
		{"-bin", "x", "-overload", "-step", "0s"},
		{"-bin", "x", "-c", "100000"},
		{"-bin", "x", "-rounds", "0"},
		{"-bin", "x", "-rounds", "101"},
		{"-bin", "x", "extra"},
		{"-bin", "x", "-zipf", "1"},
		{"-bin", "x", "-zipf", "-2"},
		{"-bin", "x", "-overload", "-bulk"},
		{"-bin", "x", "-overload", "-compare", "accounts=1; accounts=2"},
		{"-bin", "x", "-compare", "accounts=1"},
	} {
		if _, err := parseFlags(args, new(bytes.Buffer)); !fault.Is(err, fault.Invalid) {
			t.Errorf("parseFlags(%q) = %v, want an Invalid error", args, err)
		}
	}
	o, err := parseFlags([]string{"-bin", "/b", "-n", "5", "-c", "2", "-accounts", "3", "-out", "r.md"}, new(bytes.Buffer))
	want := options{bin: "/b", n: 5, c: 2, accounts: 3, warmup: 200, rounds: 3, timeout: 10 * time.Second, maxDuration: 5 * time.Minute, out: "r.md", step: 3 * time.Second}
	if diff := cmp.Diff(want, o, cmp.AllowUnexported(options{}, config{})); err != nil || diff != "" {
		t.Errorf("parseFlags = %v; options (-want +got):\n%s", err, diff)
	}
	// A configuration takes -accounts and -server-args for what it leaves out.
	o, err = parseFlags([]string{"-bin", "/b", "-bulk", "-accounts", "50", "-server-args", "--a b", "-compare", "accounts=10; server-args=--c"}, new(bytes.Buffer))
	want = options{bin: "/b", n: 5000, c: 16, accounts: 50, warmup: 200, rounds: 3, timeout: 10 * time.Second, maxDuration: 5 * time.Minute,
		step: 3 * time.Second, serverArgs: "--a b", bulk: true, compare: []config{
			{label: "accounts=10", accounts: 10, serverArgs: "--a b"},
			{label: "server-args=--c", accounts: 50, serverArgs: "--c"},
		}}
	if diff := cmp.Diff(want, o, cmp.AllowUnexported(options{}, config{})); err != nil || diff != "" {
		t.Errorf("parseFlags(-compare) = %v; options (-want +got):\n%s", err, diff)
	}
}

func TestMarkdownMediansAndRatios(t *testing.T) {
	ms := time.Millisecond
	// rep returns a report of ok successes in one second, whose p50 is 1ms
	// and p99 is p99.
	rep := func(ok int, p99 time.Duration, errs map[string]int, unsent int) *loadgen.Report {
		lat := make([]time.Duration, ok)
		for i := range lat {
			lat[i] = ms
		}
		lat[len(lat)-2], lat[len(lat)-1] = p99, p99 // p99 is the 99th of 100, the 25th of 25
		return &loadgen.Report{Requests: 100, Concurrency: 4, OK: ok, Errors: errs, Unsent: unsent,
			Elapsed: time.Second, Latencies: lat}
	}
	none := map[string]int{}
	results := []result{
		{"baseline", []*loadgen.Report{rep(100, 2*ms, none, 0), rep(90, 40*ms, none, 0), rep(120, 3*ms, none, 0)}},
		{"slower", []*loadgen.Report{
			rep(25, 10*ms, none, 0), rep(30, 15*ms, map[string]int{"timeout": 1, "503": 4}, 65), rep(20, 20*ms, none, 0),
		}},
	}
	rows := tableRows(markdown(options{n: 100, c: 4, rounds: 3}, time.Unix(0, 0), results))
	want := [][]string{
		{"baseline", "3 × 100", "4", "100", "90–120", "1.00 ms", "3.00 ms", "0", "1.00×", "1.00×"},
		{"slower", "3 × 100", "4", "25", "20–30", "1.00 ms", "15.00 ms", "round 2: 503×4, timeout×1, 65 unsent", "0.25×", "5.00×"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("markdown rows (-want +got):\n%s", diff)
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

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

func TestRelayLag(t *testing.T) {
	for _, tt := range []struct {
		in     string
		lag    int64
		series bool
	}{
		{"", 0, false},
		{"# HELP atrium_relay_lag_events Events.\n# TYPE atrium_relay_lag_events gauge\natrium_outbox_last_position 7\n", 0, false},
		{"atrium_relay_lag_events{relay=\"webhooks\"} 0\n", 0, true},
		{"atrium_relay_lag_events{relay=\"nats\"} 3\natrium_relay_lag_events{relay=\"webhooks\"} 1.2e+06\n", 1_200_003, true},
		{"atrium_relay_lag_events{relay=\"webhooks\"} x\n", 0, false},
	} {
		lag, series := relayLag([]byte(tt.in))
		if lag != tt.lag || series != tt.series {
			t.Errorf("relayLag(%q) = %d, %v; want %d, %v", tt.in, lag, series, tt.lag, tt.series)
		}
	}
}
