package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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
